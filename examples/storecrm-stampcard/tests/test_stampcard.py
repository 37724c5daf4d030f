"""Stamp card, tested the way a store uses it: a till, a refund, the API, erasure."""


def test_a_sale_earns_a_stamp_per_unit_and_a_refund_takes_them_back(storecrm_shop):
    sale = storecrm_shop.sale([{"sku": "LATTE", "quantity": 2}, {"sku": "MUFFIN", "quantity": 1}],
                              phone="13800000001")
    assert sale["effects"]["stampcard"] == {"stamps": 3}
    refund = storecrm_shop.refund(sale["id"], [{"sku": "LATTE", "quantity": 1}])
    assert refund["effects"]["stampcard"] == {"stamps": 2}


def test_the_api_answers_for_customers_the_store_sees_only(storecrm_shop):
    sale = storecrm_shop.sale([{"sku": "BEANS", "quantity": 1}], phone="13800000002")
    answer = storecrm_shop.client("manager").get(f"/api/v1/stampcard/customers/{sale['customer_id']}/stamps")
    assert answer.status_code == 200 and answer.get_json() == {"customer_id": sale["customer_id"], "stamps": 1}
    assert storecrm_shop.client("manager").get("/api/v1/stampcard/customers/999999/stamps").status_code == 404


def test_switched_off_in_the_store_means_404_and_no_stamps(storecrm_shop):
    assert storecrm_shop.cli("plugins", "disable", "stampcard", "--store", "TEST01").exit_code == 0
    sale = storecrm_shop.sale([{"sku": "LATTE", "quantity": 1}], phone="13800000003")
    assert "stampcard" not in sale["effects"]
    url = f"/api/v1/stampcard/customers/{sale['customer_id']}/stamps"
    assert storecrm_shop.client("manager").get(url).status_code == 404


def test_an_erased_customer_leaves_no_trace(storecrm_shop, storecrm_assert_erased):
    sale = storecrm_shop.sale([{"sku": "LATTE", "quantity": 1}], phone="13800000004")
    answer = storecrm_shop.client("manager").delete(f"/api/v1/customers/{sale['customer_id']}")
    assert answer.status_code == 200, answer.get_json()
    storecrm_assert_erased(sale["customer_id"], plugin="stampcard")
