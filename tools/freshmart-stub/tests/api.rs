//! The API contract over HTTP: health, the stock world's views, batch writes and their
//! validation answers, deletes, and the order views after writes.

mod common;

use common::{triple, Harness};
use serde_json::{json, Value};

#[tokio::test]
async fn health_and_readiness() {
    let h = Harness::default().await;
    assert_eq!(h.get("/health").await, (200, json!({"status": "healthy"})));
    assert_eq!(
        h.get("/ready").await,
        (200, json!({"status": "ready", "database": "connected"}))
    );
    assert_eq!(
        h.get("/nowhere").await,
        (404, json!({"detail": "Not Found"}))
    );
}

#[tokio::test]
async fn stock_world_is_served() {
    let h = Harness::default().await;

    let (status, stores) = h.get("/freshmart/stores").await;
    assert_eq!(status, 200);
    let stores = stores.as_array().unwrap();
    let mut ids: Vec<&str> = stores
        .iter()
        .map(|s| s["store_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        [
            "store:BK-01",
            "store:BK-02",
            "store:BX-01",
            "store:BX-02",
            "store:MAN-01",
            "store:MAN-02",
            "store:QNS-01",
            "store:QNS-02",
            "store:SI-01",
            "store:SI-02"
        ]
    );
    let bk01 = stores
        .iter()
        .find(|s| s["store_id"] == "store:BK-01")
        .unwrap();
    assert_eq!(bk01["store_zone"], "BK");
    let items = bk01["inventory_items"].as_array().unwrap();
    assert_eq!(items.len(), 760);
    assert_eq!(items[0]["inventory_id"], "inventory:INV-000001");
    assert_eq!(items[0]["product_id"], "product:prod0001");
    assert_eq!(items[0]["stock_level"], 100);
    assert_eq!(items[0]["perishable"], true);

    let (status, inventory) = h
        .get("/freshmart/stores/inventory?store_id=store:BK-02&limit=2")
        .await;
    assert_eq!(status, 200);
    assert_eq!(inventory[0]["inventory_id"], "inventory:INV-000761");
    assert_eq!(inventory[0]["product_id"], "product:prod0001");
    assert_eq!(inventory[1]["inventory_id"], "inventory:INV-000762");
    assert_eq!(inventory.as_array().unwrap().len(), 2);
    let (status, too_many) = h.get("/freshmart/stores/inventory?limit=5000").await;
    assert_eq!(status, 422);
    assert_eq!(too_many["detail"][0]["type"], "less_than_equal");

    let (_, customers) = h.get("/freshmart/customers").await;
    let customers = customers.as_array().unwrap();
    assert_eq!(customers.len(), 100);
    assert!(customers
        .iter()
        .any(|c| c["customer_id"] == "customer:00001"));
    assert!(customers
        .iter()
        .all(|c| c["customer_name"].is_string() && c["customer_email"].is_string()));

    let (_, products) = h.get("/freshmart/products").await;
    let products = products.as_array().unwrap();
    assert_eq!(products.len(), 760);
    let milk = products
        .iter()
        .find(|p| p["product_id"] == "product:prod0001")
        .unwrap();
    assert_eq!(
        milk,
        &json!({
            "product_id": "product:prod0001",
            "product_name": "Organic Whole Milk 1 Gallon",
            "category": "Dairy",
            "unit_price": "5.99",
            "perishable": true
        })
    );
    assert!(products.iter().all(|p| p["unit_price"].is_string()));
}

/// Posts one triple and returns the answer.
async fn post_one(
    h: &Harness,
    subject: &str,
    predicate: &str,
    value: &str,
    object_type: &str,
) -> (u16, Value) {
    h.post(
        "/triples/batch?validate=true",
        &json!([triple(subject, predicate, value, object_type)]),
    )
    .await
}

#[tokio::test]
async fn ontology_violations_answer_400_with_their_error_type() {
    let h = Harness::default().await;
    let (status, body) = post_one(&h, "order:FM-1", "colour", "red", "string").await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"detail": {"message": "Triple validation failed", "errors": [{
            "error_type": "unknown_predicate",
            "message": "Predicate 'colour' not found in ontology",
            "predicate": "colour",
            "expected": null,
            "actual": null
        }]}})
    );
    let cases = [
        (
            "customer:00001",
            "order_status",
            "CREATED",
            "string",
            "domain_violation",
        ),
        (
            "orderline:FM-1-01",
            "quantity",
            "3",
            "string",
            "range_type_mismatch",
        ),
        (
            "orderline:FM-1-01",
            "quantity",
            "three",
            "int",
            "invalid_literal",
        ),
        (
            "orderline:FM-1-01",
            "order_line_unit_price",
            "5,99",
            "float",
            "invalid_literal",
        ),
        (
            "orderline:FM-1-01",
            "perishable_flag",
            "yes",
            "bool",
            "invalid_literal",
        ),
        (
            "order:FM-1",
            "delivery_window_start",
            "tomorrow",
            "timestamp",
            "invalid_literal",
        ),
        (
            "spaceship:1",
            "order_status",
            "CREATED",
            "string",
            "unknown_class",
        ),
        (
            "order:FM-1",
            "placed_by",
            "store:BK-01",
            "entity_ref",
            "range_class_mismatch",
        ),
        (
            "order:FM-1",
            "placed_by",
            "customer00001",
            "entity_ref",
            "invalid_entity_ref",
        ),
    ];
    let triples_before = h.stub.stats().triple_count;
    for (subject, predicate, value, object_type, expected) in cases {
        let (status, body) = post_one(&h, subject, predicate, value, object_type).await;
        assert_eq!(status, 400, "{predicate}={value}: {body}");
        assert_eq!(body["detail"]["message"], "Triple validation failed");
        assert_eq!(
            body["detail"]["errors"][0]["error_type"], expected,
            "{predicate}={value}: {body}"
        );
    }
    assert_eq!(h.stub.stats().triple_count, triples_before);
    // Accepted: a timestamp with fraction and offset, a reference to a subject that does not exist.
    let (status, _) = post_one(
        &h,
        "order:FM-1",
        "delivery_window_end",
        "2026-11-27T18:30:00.5+01:00",
        "timestamp",
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) = post_one(
        &h,
        "order:FM-1",
        "placed_by",
        "customer:99999",
        "entity_ref",
    )
    .await;
    assert_eq!(status, 201);
    let stats = h.stub.stats();
    assert_eq!(stats.client_errors["unknown_predicate"], 1);
    assert_eq!(stats.client_errors["invalid_literal"], 4);
    assert_eq!(stats.by_endpoint["POST /triples/batch"], 12);
}

#[tokio::test]
async fn malformed_requests_answer_422_with_a_detail_list() {
    let h = Harness::default().await;
    let bodies = [
        json!([triple("order:FM-1", "order_status", "CREATED", "text")]).to_string(),
        json!([triple("orderFM-1", "order_status", "CREATED", "string")]).to_string(),
        "[{\"subject_id\": ".to_owned(),
        triple("order:FM-1", "order_status", "CREATED", "string").to_string(),
        json!([{"subject_id": "order:FM-1", "predicate": "order_status", "object_type": "string"}])
            .to_string(),
    ];
    let expected = [
        "enum",
        "value_error",
        "json_invalid",
        "list_type",
        "missing",
    ];
    for (body, expected) in bodies.into_iter().zip(expected) {
        let (status, answer) = h
            .send(reqwest::Method::POST, "/triples/batch", Some(body.clone()))
            .await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(answer["detail"][0]["type"], expected, "{body}: {answer}");
        assert!(answer["detail"].is_array());
    }
    let (status, answer) = h
        .send(
            reqwest::Method::PUT,
            "/triples/batch?validate=maybe",
            Some("[]".to_owned()),
        )
        .await;
    assert_eq!(
        (status, &answer["detail"][0]["loc"]),
        (422, &json!(["query", "validate"]))
    );
    assert!(h.stub.triples_of("order:FM-1").is_empty());
    assert_eq!(h.stub.stats().client_errors["request_validation"], 6);
}

#[tokio::test]
async fn a_batch_is_written_whole_or_not_at_all() {
    let h = Harness::default().await;
    let invalid_second = json!([
        triple("order:FM-1", "order_status", "CREATED", "string"),
        triple("order:FM-1", "order_total_amount", "lots", "float"),
    ]);
    assert_eq!(h.post("/triples/batch", &invalid_second).await.0, 400);
    assert!(h.stub.triples_of("order:FM-1").is_empty());

    let duplicate = json!([
        triple("order:FM-1", "order_status", "CREATED", "string"),
        triple("order:FM-1", "order_status", "CREATED", "string"),
    ]);
    let response = h
        .client
        .post(h.url("/triples/batch"))
        .body(duplicate.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 500);
    assert_eq!(response.text().await.unwrap(), "Internal Server Error");
    assert!(h.stub.triples_of("order:FM-1").is_empty());
    assert_eq!(h.put("/triples/batch", &duplicate).await.0, 500);
    assert!(h.stub.triples_of("order:FM-1").is_empty());

    // Without validation anything goes in, but the subject still needs a colon.
    let unchecked = json!([triple("order:FM-1", "colour", "red", "string")]);
    assert_eq!(
        h.post("/triples/batch?validate=false", &unchecked).await.0,
        201
    );
    assert_eq!(
        h.values_of("order:FM-1"),
        [("colour".to_owned(), "red".to_owned())]
    );
}

#[tokio::test]
async fn post_is_idempotent_and_adds_other_values() {
    let h = Harness::default().await;
    let batch = json!([
        triple("order:FM-1", "order_status", "CREATED", "string"),
        triple("order:FM-1", "placed_by", "customer:00001", "entity_ref"),
    ]);
    let (status, first) = h.post("/triples/batch?validate=true", &batch).await;
    assert_eq!(status, 201);
    let row = &first[0];
    assert_eq!(row["subject_id"], "order:FM-1");
    assert_eq!(row["object_type"], "string");
    assert!(row["id"].is_u64() && row["created_at"].is_string() && row["updated_at"].is_string());

    let (status, again) = h.post("/triples/batch?validate=true", &batch).await;
    assert_eq!(status, 201);
    assert_eq!(again[0]["id"], first[0]["id"]);
    assert_eq!(again[0]["created_at"], first[0]["created_at"]);
    assert_eq!(h.stub.triples_of("order:FM-1").len(), 2);

    let picking = json!([triple("order:FM-1", "order_status", "PICKING", "string")]);
    assert_eq!(h.post("/triples/batch", &picking).await.0, 201);
    let statuses: Vec<String> = h
        .values_of("order:FM-1")
        .into_iter()
        .filter(|(p, _)| p == "order_status")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(statuses, ["CREATED", "PICKING"]);
}

#[tokio::test]
async fn put_replaces_values_and_creates_unknown_subjects() {
    let h = Harness::default().await;
    let two = json!([
        triple("order:FM-1", "order_status", "CREATED", "string"),
        triple("order:FM-1", "order_status", "PICKING", "string"),
        triple("order:FM-1", "order_number", "FM-1", "string"),
    ]);
    assert_eq!(h.post("/triples/batch", &two).await.0, 201);
    let (status, rows) = h
        .put(
            "/triples/batch?validate=true",
            &json!([triple("order:FM-1", "order_status", "DELIVERED", "string")]),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(rows[0]["object_value"], "DELIVERED");
    assert_eq!(
        h.values_of("order:FM-1"),
        [
            ("order_number".to_owned(), "FM-1".to_owned()),
            ("order_status".to_owned(), "DELIVERED".to_owned())
        ]
    );

    let stock = json!([triple("inventory:INV-000001", "stock_level", "42", "int")]);
    assert_eq!(h.put("/triples/batch", &stock).await.0, 200);
    let (_, items) = h.get("/freshmart/stores/inventory?limit=1").await;
    assert_eq!(items[0]["stock_level"], 42);

    let orphan = json!([triple(
        "inventory:BK-01-prod0001",
        "stock_level",
        "7",
        "int"
    )]);
    assert_eq!(h.put("/triples/batch", &orphan).await.0, 200);
    assert_eq!(
        h.values_of("inventory:BK-01-prod0001"),
        [("stock_level".to_owned(), "7".to_owned())]
    );
}

#[tokio::test]
async fn delete_removes_a_subject_once() {
    let h = Harness::default().await;
    let line = json!([
        triple("orderline:LG-000001-02", "quantity", "2", "int"),
        triple("orderline:LG-000001-02", "line_sequence", "2", "int"),
    ]);
    assert_eq!(h.post("/triples/batch", &line).await.0, 201);
    let (status, body) = h.delete("/triples/subjects/orderline:LG-000001-02").await;
    assert_eq!((status, body), (204, Value::Null));
    assert!(h.stub.triples_of("orderline:LG-000001-02").is_empty());
    assert_eq!(
        h.delete("/triples/subjects/orderline:LG-000001-02").await,
        (404, json!({"detail": "Subject not found"}))
    );
    assert_eq!(
        h.delete("/triples/subjects/orderline%3ALG-000001-09")
            .await
            .0,
        404
    );
}

/// The triples of a CREATED order of two lines, lines listed in reverse sequence.
fn two_line_order() -> Value {
    let order = "order:FM-1A2B3C4D";
    json!([
        triple(order, "order_number", "FM-1A2B3C4D", "string"),
        triple(order, "order_status", "CREATED", "string"),
        triple(order, "placed_by", "customer:00042", "entity_ref"),
        triple(order, "order_store", "store:MAN-01", "entity_ref"),
        triple(
            order,
            "delivery_window_start",
            "2026-11-27T18:30:00",
            "timestamp"
        ),
        triple(
            order,
            "delivery_window_end",
            "2026-11-27T20:30:00",
            "timestamp"
        ),
        triple(order, "order_total_amount", "23.77", "float"),
        triple(
            "orderline:FM-1A2B3C4D-02",
            "line_of_order",
            order,
            "entity_ref"
        ),
        triple(
            "orderline:FM-1A2B3C4D-02",
            "line_product",
            "product:prod0002",
            "entity_ref"
        ),
        triple("orderline:FM-1A2B3C4D-02", "quantity", "1", "int"),
        triple(
            "orderline:FM-1A2B3C4D-02",
            "order_line_unit_price",
            "5.79",
            "float"
        ),
        triple("orderline:FM-1A2B3C4D-02", "line_amount", "5.79", "float"),
        triple("orderline:FM-1A2B3C4D-02", "line_sequence", "2", "int"),
        triple(
            "orderline:FM-1A2B3C4D-02",
            "perishable_flag",
            "true",
            "bool"
        ),
        triple(
            "orderline:FM-1A2B3C4D-01",
            "line_of_order",
            order,
            "entity_ref"
        ),
        triple(
            "orderline:FM-1A2B3C4D-01",
            "line_product",
            "product:prod0001",
            "entity_ref"
        ),
        triple("orderline:FM-1A2B3C4D-01", "quantity", "3", "int"),
        triple(
            "orderline:FM-1A2B3C4D-01",
            "order_line_unit_price",
            "5.99",
            "float"
        ),
        triple("orderline:FM-1A2B3C4D-01", "line_amount", "17.97", "float"),
        triple("orderline:FM-1A2B3C4D-01", "line_sequence", "1", "int"),
        triple(
            "orderline:FM-1A2B3C4D-01",
            "perishable_flag",
            "true",
            "bool"
        ),
    ])
}

#[tokio::test]
async fn orders_written_as_triples_show_in_the_views() {
    let h = Harness::default().await;
    assert_eq!(h.post("/triples/batch", &two_line_order()).await.0, 201);

    let (status, order) = h.get("/freshmart/orders/order:FM-1A2B3C4D").await;
    assert_eq!(status, 200);
    assert_eq!(order["order_number"], "FM-1A2B3C4D");
    assert_eq!(order["order_status"], "CREATED");
    assert_eq!(order["store_id"], "store:MAN-01");
    assert_eq!(order["customer_id"], "customer:00042");
    assert_eq!(order["delivery_window_start"], "2026-11-27T18:30:00");
    assert_eq!(order["order_total_amount"], "23.76");
    assert_eq!(order["store_name"], "FreshMart Manhattan 1");
    assert!(order["customer_name"].is_string() && order["effective_updated_at"].is_string());

    let (status, lines) = h
        .get("/freshmart/orders/order:FM-1A2B3C4D/line-items")
        .await;
    assert_eq!(status, 200);
    let lines = lines.as_array().unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["line_id"], "orderline:FM-1A2B3C4D-01");
    assert_eq!(lines[0]["order_id"], "order:FM-1A2B3C4D");
    assert_eq!(lines[0]["product_id"], "product:prod0001");
    assert_eq!(lines[0]["quantity"], 3);
    assert_eq!(lines[0]["unit_price"], "5.99");
    assert_eq!(lines[0]["line_amount"], "17.97");
    assert_eq!(lines[0]["line_sequence"], 1);
    assert_eq!(lines[0]["perishable_flag"], true);
    assert_eq!(lines[0]["product_name"], "Organic Whole Milk 1 Gallon");
    assert_eq!(lines[1]["line_id"], "orderline:FM-1A2B3C4D-02");

    let (_, listed) = h
        .get("/freshmart/orders?status=CREATED&store_id=store:MAN-01&limit=10")
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["order_total_amount"], "23.76");
    let (_, none) = h.get("/freshmart/orders?status=DELIVERED").await;
    assert_eq!(none, json!([]));
    assert_eq!(h.get("/freshmart/orders?limit=1001").await.0, 422);

    // Remove a line: the total follows the lines.
    assert_eq!(
        h.delete("/triples/subjects/orderline:FM-1A2B3C4D-02")
            .await
            .0,
        204
    );
    let (_, order) = h.get("/freshmart/orders/order:FM-1A2B3C4D").await;
    assert_eq!(order["order_total_amount"], "17.97");
    let (_, lines) = h
        .get("/freshmart/orders/order:FM-1A2B3C4D/line-items")
        .await;
    assert_eq!(lines.as_array().unwrap().len(), 1);

    assert_eq!(
        h.get("/freshmart/orders/order:FM-NOPE").await,
        (404, json!({"detail": "Order not found"}))
    );
    assert_eq!(
        h.get("/freshmart/orders/order:FM-NOPE/line-items").await,
        (200, json!([]))
    );
}
