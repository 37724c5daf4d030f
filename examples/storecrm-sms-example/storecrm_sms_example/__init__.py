"""storecrm-sms-example: an SMS provider plugin for campaigns, the shape any SMS or WeChat
provider takes. It registers one message channel, "sms", through `register_message_channels`;
campaigns then offers "sms" for campaigns and notices, checks the customer's SMS consent and
the frequency cap before calling it, and records the provider id it returns."""

from core.plugins import Manifest

manifest = Manifest(
    name="sms_example",
    version="0.1.0",
    summary="SMS through an HTTP gateway (example provider for campaigns)",
    summary_zh="通过短信网关发送短信（营销活动的示例渠道）",
    hooks="storecrm_sms_example.hooks",
    package="storecrm_sms_example",
)
