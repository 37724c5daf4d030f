"""stampcard — Stamp card (a storecrm plugin)."""

from storecrm import Manifest

manifest = Manifest(
    name="stampcard",
    version="0.1.0",
    summary="Stamp card: one stamp per unit bought",
    summary_zh="集点卡：每购买一件积一个点",
    hooks="storecrm_stampcard.hooks",
    package="storecrm_stampcard",
)
