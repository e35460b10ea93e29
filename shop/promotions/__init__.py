"""Promotions: offers for segments, per-customer codes, redemption (atomic), consent to offers."""
