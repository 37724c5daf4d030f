"""feedback — feedback from every channel, complaints as tickets with an SLA, satisfaction
surveys and service quality per staff member (seeds 000, 001, 002, 003).

Complaints and feedback belong to the store they were made in; a customer's flag ("open
complaint") is chain-wide, so any store sees that an apology comes first."""

from core.plugins import Manifest
from plugins.feedback.schemas import FeedbackSettings

manifest = Manifest(
    name="feedback",
    version="1.0.0",
    summary="Feedback, complaints with SLA, satisfaction surveys and service quality",
    title="Feedback",
    title_zh="顾客反馈",
    summary_zh="顾客反馈、投诉工单与时限、满意度回访、服务质量",
    depends=(),
    settings_schema=FeedbackSettings,
    hooks="plugins.feedback.hooks",
    package="plugins.feedback",
)
