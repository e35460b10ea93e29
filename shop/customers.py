"""Finding a customer by what a person types: shopbot's id, an imported id or an e-mail."""

from __future__ import annotations

from sqlalchemy import func, select

from shop.errors import NotFound
from shop.store.models import Customer


def find_customer(engine, ident: str) -> dict:
    """{"id", "external_id", "email", "name"} of the customer with this id, external (imported)
    id or email, else NotFound.

    A number may be shopbot's customer id or an imported (external) id; when it is both, for
    two different customers, the answer is an error asking which (``id:N`` or ``ext:N``) rather
    than a guess that shows one customer's recommendations for another."""
    ident = ident.strip()
    cols = (Customer.id, Customer.external_id, Customer.email, Customer.name)
    with engine.connect() as conn:
        row = None
        kind, _, value = ident.partition(":")
        if kind in {"id", "ext"} and value.strip():
            value = value.strip()
            if kind == "id" and value.isdigit():
                row = conn.execute(select(*cols).where(Customer.id == int(value))).first()
            elif kind == "ext":
                row = conn.execute(select(*cols).where(Customer.external_id == value)).first()
        elif ident.isdigit():
            by_id = conn.execute(select(*cols).where(Customer.id == int(ident))).first()
            by_ext = conn.execute(select(*cols).where(Customer.external_id == ident)).first()
            if by_id is not None and by_ext is not None and by_id.id != by_ext.id:
                raise NotFound(
                    f"{ident} is both customer id:{ident} and the imported customer "
                    f"ext:{ident} (customer id:{by_ext.id}) — say which: id:{ident} or ext:{ident}"
                )
            row = by_id or by_ext
        else:
            row = conn.execute(select(*cols).where(Customer.external_id == ident)).first()
        if row is None and "@" in ident:
            row = conn.execute(
                select(*cols).where(func.lower(Customer.email) == ident.lower())
            ).first()
    if row is None:
        raise NotFound(
            f"no customer {ident} — give a customer id, an email or the id from an imported file"
        )
    return {"id": row.id, "external_id": row.external_id, "email": row.email, "name": row.name}
