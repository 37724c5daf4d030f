"""Feedback's records in the cross-store matrix (tests/security/scoping_records.py)."""

from tests.security.scoping_records import RECORD_PARAMS, admin_form, admin_model, body, post, record

COMPLAINT = {"customer_id": "{customer_id}", "category": "service_attitude", "description": "冷漠 cold"}
FEEDBACK = {"customer_id": "{customer_id}", "rating": 1, "category": "product_quality", "text": "太甜 too sweet"}

record("complaint_id", post("/feedback/complaints", COMPLAINT))
record("feedback_id", post("/feedback/feedback", FEEDBACK))
body("POST", "api_feedback.create_complaint", {**COMPLAINT, "store": "SH001"})
body("POST", "api_feedback.create_feedback", {**FEEDBACK, "store": "SH001"})
body("GET", "api_feedback.list_complaints", {"customer_id": "{customer_id}", "store": "SH001"})
body("GET", "api_feedback.list_feedback", {"customer_id": "{customer_id}", "store": "SH001"})
admin_model("FeedbackEntry", lambda env: env.value(RECORD_PARAMS, "feedback_id"))
admin_model("Complaint", lambda env: env.value(RECORD_PARAMS, "complaint_id"))
# the counter's form: a complaint about BJ001's customer, taken in SH001
admin_form("feedback_complaints.new", {"customer_id": "{customer_id}", "category": "service_attitude", "text": "冷漠",
                                       "kind": "complaint"})
