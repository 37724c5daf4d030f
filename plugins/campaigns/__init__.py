"""campaigns — segments, consented messaging, coupons, budget, measured effect and care
automations (营销活动与客户关怀; seeds 000–003).

Per store: a store's segments, campaigns and coupons are its own (a joint campaign's coupons
name the partner stores that may redeem them); the cap, quiet hours, costs and automations are
the store's settings."""

from core.plugins import Manifest
from plugins.campaigns.schemas import CampaignsSettings

manifest = Manifest(
    name="campaigns",
    version="1.0.0",
    summary="Segments, consented messaging, coupons, budget, measured effect and care automations",
    title="Campaigns",
    title_zh="营销活动",
    summary_zh="客户分群、合规消息、优惠券、预算、效果评估与关怀自动化",
    depends=(),
    settings_schema=CampaignsSettings,
    hooks="plugins.campaigns.hooks",
    package="plugins.campaigns",
)
