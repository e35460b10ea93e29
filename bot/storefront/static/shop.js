/* The shop front: products, cart and the demo sign-in. Text from the server is always put into
 * the page as text nodes (textContent), never as HTML. */
(function () {
  "use strict";

  var API = "/storefront/api";
  var AUTH_KEY = "shopbot.auth";
  var CART_KEY = "shopbot.cart";
  var listeners = [];

  function $(id) { return document.getElementById(id); }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  var priceFormat = new Intl.NumberFormat("en-GB", { style: "currency", currency: "GBP" });
  function formatPrice(value) {
    var n = Number(value);
    return isFinite(n) ? priceFormat.format(n) : "";
  }

  // -- storage that never throws (private mode, disabled storage) -------------------------------
  function readJSON(storage, key) {
    try { return JSON.parse(storage.getItem(key) || "null"); } catch (e) { return null; }
  }
  function writeJSON(storage, key, value) {
    try {
      if (value === null) storage.removeItem(key);
      else storage.setItem(key, JSON.stringify(value));
    } catch (e) { /* storage unavailable: the page still works for this visit */ }
  }

  // -- signed-in customer ------------------------------------------------------------------------
  // Kept per tab (sessionStorage): closing the tab signs out, a reload does not.
  function getAuth() {
    var auth = readJSON(window.sessionStorage, AUTH_KEY);
    if (!auth || typeof auth.token !== "string") return null;
    if (auth.expires_at && Date.parse(auth.expires_at) <= Date.now()) {
      // Expired: signed out, and the page and the chat are told so.
      writeJSON(window.sessionStorage, AUTH_KEY, null);
      setTimeout(function () {
        renderAccount();
        listeners.forEach(function (fn) { fn(null); });
      }, 0);
      return null;
    }
    return auth;
  }
  function setAuth(auth) {
    writeJSON(window.sessionStorage, AUTH_KEY, auth);
    renderAccount();
    listeners.forEach(function (fn) { fn(getAuth()); });
  }

  function showAccountError(message) {
    var box = $("account-error");
    box.textContent = message || "";
    box.hidden = !message;
  }

  function renderAccount() {
    var auth = getAuth();
    $("signed-in").hidden = !auth;
    $("signin-form").hidden = !!auth || !$("signin-form").dataset.enabled;
    $("signed-in-name").textContent = auth ? auth.name : "";
  }

  function fetchJSON(url, options) {
    return fetch(url, options).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (body) {
        if (!res.ok) {
          var err = new Error(body.error || ("The shop answered " + res.status + "."));
          err.status = res.status;
          throw err;
        }
        return body;
      });
    });
  }

  function loadCustomers() {
    return fetchJSON(API + "/customers").then(function (body) {
      var select = $("signin-select");
      if (!body.enabled) return;
      (body.customers || []).forEach(function (c) {
        var option = el("option", null, c.name);
        option.value = String(c.id);
        select.appendChild(option);
      });
      $("signin-form").dataset.enabled = "1";
      renderAccount();
    }).catch(function () {
      showAccountError("Demo sign-in is not available right now.");
    });
  }

  function signIn(event) {
    event.preventDefault();
    var id = $("signin-select").value;
    if (!id) {
      showAccountError("Choose a demo customer first.");
      $("signin-select").focus();
      return;
    }
    showAccountError("");
    fetchJSON(API + "/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ customer_id: Number(id) })
    }).then(function (body) {
      setAuth({ token: body.token, name: body.name, customer_id: body.customer_id,
                expires_at: body.expires_at });
      $("signout-button").focus();
    }).catch(function (err) {
      showAccountError("Sign-in failed: " + err.message);
    });
  }

  function signOut() {
    setAuth(null);
    showAccountError("");
    $("signin-select").value = "";
    $("signin-select").focus();
  }

  // -- cart and products -------------------------------------------------------------------------
  function cartCount() {
    var cart = readJSON(window.localStorage, CART_KEY);
    return cart && typeof cart.count === "number" ? cart.count : 0;
  }
  function addToCart(product) {
    var count = cartCount() + 1;
    writeJSON(window.localStorage, CART_KEY, { count: count });
    $("cart-count").textContent = String(count);
    $("shop-status").textContent = "Added " + (product && product.name ? product.name : "item") +
      " to the cart.";
  }

  function productCard(p) {
    var item = el("li", "product");
    item.dataset.sku = p.sku;
    var art = el("div", "product-art product-art-" + (p.category || "other"));
    art.setAttribute("aria-hidden", "true");
    art.textContent = (p.category || "?").charAt(0).toUpperCase();
    item.appendChild(art);
    item.appendChild(el("p", "product-category", p.category));
    item.appendChild(el("h3", "product-name", p.name));
    item.appendChild(el("p", "product-price", formatPrice(p.price)));
    var stock = el("p", p.in_stock ? "stock in" : "stock out", p.in_stock ? "In stock" : "Out of stock");
    item.appendChild(stock);
    var button = el("button", "add-to-cart", "Add to cart");
    button.type = "button";
    button.disabled = !p.in_stock;
    button.setAttribute("aria-label", "Add " + p.name + " to cart");
    button.addEventListener("click", function () { addToCart(p); });
    item.appendChild(button);
    return item;
  }

  function loadProducts() {
    var status = $("products-status");
    fetchJSON(API + "/products").then(function (body) {
      var list = $("products");
      (body.products || []).forEach(function (p) { list.appendChild(productCard(p)); });
      status.textContent = (body.products || []).length ? "" : "No products to show yet.";
      status.hidden = !status.textContent;
    }).catch(function () {
      status.textContent = "Products can't be shown right now. Please try again later.";
    });
  }

  window.Shopbot = {
    getAuth: getAuth,
    onAuthChange: function (fn) { listeners.push(fn); },
    addToCart: addToCart,
    formatPrice: formatPrice,
    readJSON: readJSON,
    writeJSON: writeJSON,
    el: el
  };

  document.addEventListener("DOMContentLoaded", function () {
    $("cart-count").textContent = String(cartCount());
    $("signin-form").addEventListener("submit", signIn);
    $("signout-button").addEventListener("click", signOut);
    renderAccount();
    setInterval(getAuth, 30000);
    loadCustomers();
    loadProducts();
  });
})();
