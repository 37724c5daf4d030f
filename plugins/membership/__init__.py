"""membership — tiers, points ledger, birthday perks and member days (会员制度; seeds 000, 002).

The program is chain-wide: points and tier follow the member to every store that enables the
plugin; each store's settings say which perks its till offers."""

from core.plugins import Manifest
from plugins.membership.schemas import MembershipSettings

manifest = Manifest(
    name="membership",
    version="1.0.0",
    summary="Membership tiers, points ledger, birthday perks and member days",
    title="Membership",
    title_zh="会员",
    summary_zh="会员等级、积分、生日优惠与会员日",
    depends=(),
    settings_schema=MembershipSettings,
    hooks="plugins.membership.hooks",
    package="plugins.membership",
)
