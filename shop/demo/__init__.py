"""The demo shop: a deterministic, seeded shop with planted customer groups (``setup-demo``).

Public API:
- :func:`build_demo` fills an empty, migrated database and returns row counts and seconds;
- :func:`generate_shop` gives the same tables as pandas frames without a database;
- :data:`DEMO_ACCOUNTS` / :data:`DEMO_ORDERS`: fixed accounts and orders dated from end_date;
- :data:`DEMO_PRODUCTS`: products that exist whatever the seed;
- :data:`PLANTED_GROUPS` / :data:`PLANTED_FAVOURITES`: the customer groups a segmentation should
  find, and each one's favourite category.
"""

from shop.demo.accounts import (
    DEMO_ACCOUNTS,
    DEMO_ORDERS,
    demo_customers,
    demo_order_timeline,
    is_demo_shop,
)
from shop.demo.build import (
    DEFAULT_CUSTOMERS,
    DEFAULT_DAYS,
    DEFAULT_PRODUCTS,
    DEFAULT_SEED,
    build_demo,
    generate_shop,
    has_shop_data,
    shop_row_counts,
    utc_today,
)
from shop.demo.catalogue import DEMO_PRODUCTS, demo_product_skus
from shop.demo.people import PLANTED_FAVOURITES, PLANTED_GROUPS

__all__ = [
    "DEFAULT_CUSTOMERS",
    "DEFAULT_DAYS",
    "DEFAULT_PRODUCTS",
    "DEFAULT_SEED",
    "DEMO_ACCOUNTS",
    "DEMO_ORDERS",
    "DEMO_PRODUCTS",
    "PLANTED_FAVOURITES",
    "PLANTED_GROUPS",
    "build_demo",
    "demo_customers",
    "demo_order_timeline",
    "demo_product_skus",
    "generate_shop",
    "has_shop_data",
    "is_demo_shop",
    "shop_row_counts",
    "utc_today",
]
