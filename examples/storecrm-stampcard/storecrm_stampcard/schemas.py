from marshmallow import Schema, fields


class StampsOut(Schema):
    customer_id = fields.Integer(required=True)
    stamps = fields.Integer(required=True, metadata={"description": "stamps the customer holds"})
