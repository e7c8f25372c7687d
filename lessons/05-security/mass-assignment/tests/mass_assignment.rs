//! Tests for security/mass-assignment: the shop on a real SQLite file,
//! served on 127.0.0.1. A logged-in customer, Ada, sends profile updates
//! and sign-ups that carry fields she must not set: her role, her store
//! credit, her email's verified flag, another customer's id. Each attack
//! must be refused with `422` and change nothing in the database, which
//! the tests read whole, row by row; each legitimate change must change the
//! fields it names and nothing else.
//!
//! Each test pairs legitimate use with attacks, so that an app that takes
//! every field passes none of them.

use rusqlite::Connection;
use security_mass_assignment::{Customer, Shop, add_customer, app, start_session};
use testkit::tempfile::TempDir;
use testkit::{Reply, TestServer, Value, json, status_text};

/// A session end far in the future.
const NEXT_CENTURY: i64 = 4_102_444_800;

/// Every column of a customer's row, as the test reads it.
type Row = (
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    i64,
);

/// The shop with Ada (logged in) and Bob.
struct World {
    _folder: TempDir,
    path: std::path::PathBuf,
    server: TestServer,
    ada_id: i64,
    bob_id: i64,
    ada_session: String,
}

impl World {
    async fn new() -> World {
        let folder = testkit::tempfile::tempdir().expect("the test could not create a temp folder");
        let path = folder.path().join("shop.db");
        let shop = match Shop::open(&path) {
            Ok(shop) => shop,
            Err(error) => panic!("\nShop::open returned an error: {error}\n"),
        };
        let db = Connection::open(&path).expect("the test could not open the database");
        let ada = Customer {
            id: 0,
            email: "ada@example.com".to_string(),
            name: "Ada".to_string(),
            phone: None,
            role: "customer".to_string(),
            credit_cents: 0,
            email_verified: true,
        };
        let bob = Customer {
            id: 0,
            email: "bob@example.com".to_string(),
            name: "Bob".to_string(),
            phone: Some("+1 555 0100".to_string()),
            role: "customer".to_string(),
            credit_cents: 500,
            email_verified: true,
        };
        let ada_id = add_customer(&db, &ada).expect("Ada is added");
        let bob_id = add_customer(&db, &bob).expect("Bob is added");
        let ada_session = start_session(&db, ada_id, NEXT_CENTURY).expect("Ada's session starts");
        let server = TestServer::spawn(app(shop)).await;
        World {
            _folder: folder,
            path,
            server,
            ada_id,
            bob_id,
            ada_session,
        }
    }

    fn db(&self) -> Connection {
        Connection::open(&self.path).expect("the test could not open the database")
    }

    /// Every customer's row, whole, in id order.
    fn rows(&self) -> Vec<Row> {
        let db = self.db();
        let mut statement = db
            .prepare(
                "SELECT id, email, name, password_hash, role, phone, credit_cents, email_verified
                 FROM customers ORDER BY id",
            )
            .expect("the test could not read the customers table");
        statement
            .query_map([], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                    row.get(6)?,
                    row.get(7)?,
                ))
            })
            .expect("the test could not read the customers table")
            .collect::<rusqlite::Result<_>>()
            .expect("the test could not read the customers table")
    }

    /// `PATCH /me` with `body` (raw JSON text), as Ada.
    async fn patch_me(&self, body: &str) -> Reply {
        self.server
            .patch("/me")
            .header("cookie", &format!("session={}", self.ada_session))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
    }

    /// Sends `body` as Ada's `PATCH /me` and fails unless it is refused
    /// with `422` and no row changes. `field`, if given, is the field the
    /// problem details must name.
    async fn assert_patch_refused(&self, body: &str, field: Option<&str>, diagnosis: &str) {
        let before = self.rows();
        let reply = self.patch_me(body).await;
        let after = self.rows();
        if after != before {
            reply.fail_with_diagnosis(
                &format!(
                    "the body {body} changed the database: {}; it answered {}, expected 422 \
                     and nothing changed",
                    changes(&before, &after),
                    status_text(reply.status())
                ),
                diagnosis,
            );
        }
        assert_unprocessable(&reply, &format!("PATCH /me with {body}"), field, diagnosis);
    }
}

/// What changed between two readings of the customers table, in words.
fn changes(before: &[Row], after: &[Row]) -> String {
    let names = [
        "id",
        "email",
        "name",
        "password_hash",
        "role",
        "phone",
        "credit_cents",
        "email_verified",
    ];
    let mut said = Vec::new();
    if before.len() != after.len() {
        said.push(format!(
            "the table had {} rows and has {}",
            before.len(),
            after.len()
        ));
    }
    for (old, new) in before.iter().zip(after) {
        let old_fields = fields(old);
        let new_fields = fields(new);
        for ((name, was), now) in names.iter().zip(&old_fields).zip(&new_fields) {
            if was != now {
                said.push(format!(
                    "customer {}'s {name} went from {was} to {now}",
                    old.0
                ));
            }
        }
    }
    said.join(", ")
}

fn fields(row: &Row) -> Vec<String> {
    vec![
        row.0.to_string(),
        format!("{:?}", row.1),
        format!("{:?}", row.2),
        format!("{:?}", row.3),
        format!("{:?}", row.4),
        format!("{:?}", row.5),
        row.6.to_string(),
        row.7.to_string(),
    ]
}

/// Fails unless `reply` is a `422` problem details body which, if `field`
/// is given, names it in its `detail`.
fn assert_unprocessable(reply: &Reply, request: &str, field: Option<&str>, diagnosis: &str) {
    if reply.status() != 422 {
        reply.fail_with_diagnosis(
            &format!(
                "expected 422 Unprocessable Content for {request}, got {}",
                status_text(reply.status())
            ),
            diagnosis,
        );
    }
    let content_type = reply.header("content-type").unwrap_or_default();
    if !content_type.starts_with("application/problem+json") {
        reply.fail(&format!(
            "the 422 for {request} is not a problem details body: expected content type \
             `application/problem+json`, got `{content_type}`"
        ));
    }
    let body = reply.json();
    if body["status"] != json!(422) {
        reply.fail(&format!(
            "the problem details body of the 422 for {request} says its status is {}, \
             expected 422",
            body["status"]
        ));
    }
    if let Some(field) = field {
        let detail = body["detail"].as_str().unwrap_or_default();
        if !detail.contains(field) {
            reply.fail(&format!(
                "the problem details of the 422 for {request} do not name the field {field:?} \
                 in their `detail`: got {detail:?}\nA client that sent a field the endpoint \
                 does not take learns which one from the answer (serde's own message for an \
                 unknown field names it)."
            ));
        }
    }
}

const BLOCKLIST_DIAGNOSIS: &str = "The body is read into a struct with the fields a customer \
    may change, and nothing else: any other field, whatever its case, spacing or nesting, is \
    refused with 422. A list of forbidden fields always misses one; a list of allowed ones \
    cannot.";

fn customer_json(row: &Row) -> Value {
    json!({
        "id": row.0,
        "email": row.1,
        "name": row.2,
        "phone": row.5,
        "role": row.4,
        "credit_cents": row.6,
        "email_verified": row.7 == 1,
    })
}

// ANCHOR: profile
#[tokio::test]
async fn a_profile_update_changes_the_name_and_phone_and_nothing_else() {
    let world = World::new().await;
    let before = world.rows();

    // One protected field beside an allowed one: nothing of it is stored,
    // not even the allowed part.
    world
        .assert_patch_refused(
            r#"{"name": "Ada Lovelace", "role": "admin"}"#,
            Some("role"),
            BLOCKLIST_DIAGNOSIS,
        )
        .await;

    let reply = world
        .patch_me(r#"{"name": "Ada Lovelace", "phone": "+44 20 7946 0000"}"#)
        .await;
    reply.assert_status(200);
    let after = world.rows();
    let mut expected = before.clone();
    expected[0].2 = "Ada Lovelace".to_string();
    expected[0].5 = Some("+44 20 7946 0000".to_string());
    if after != expected {
        reply.fail(&format!(
            "a change of name and phone changed other things too: {}",
            changes(&expected, &after)
        ));
    }
    reply.assert_json(&customer_json(&after[0]));

    // A session that ended (in 2001), replayed, changes nothing.
    let ended = start_session(&world.db(), world.ada_id, 1_000_000_000)
        .expect("the test could not add an ended session");
    let reply = world
        .server
        .patch("/me")
        .header("cookie", &format!("session={ended}"))
        .json(&json!({ "name": "Mallory" }))
        .send()
        .await;
    if world.rows() != after || reply.status() != 401 {
        reply.fail(&format!(
            "a session that ended in 2001 answered {} and changed {}: expected 401 \
             Unauthorized and nothing changed",
            status_text(reply.status()),
            changes(&after, &world.rows())
        ));
    }
}
// ANCHOR_END: profile

#[tokio::test]
async fn a_customer_cannot_make_themselves_an_admin() {
    let world = World::new().await;
    let attacks = [
        (r#"{"role": "admin"}"#, "role"),
        (r#"{"Role": "admin"}"#, "Role"),
        (r#"{"ROLE": "admin"}"#, "ROLE"),
        (r#"{"role ": "admin"}"#, "role "),
        (r#"{"r\u006fle": "admin", "name": "Ada"}"#, "role"),
        (r#"{"profile": {"role": "admin"}}"#, "profile"),
        (r#"{"customer": {"role": "admin"}}"#, "customer"),
        (r#"{"name": "Ada", "is_admin": true}"#, "is_admin"),
    ];
    for (body, field) in attacks {
        world
            .assert_patch_refused(body, Some(field), BLOCKLIST_DIAGNOSIS)
            .await;
    }

    // Ada still reads her profile, as a customer.
    let reply = world
        .server
        .get("/me")
        .header("cookie", &format!("session={}", world.ada_session))
        .send()
        .await;
    reply
        .assert_status(200)
        .assert_json(&customer_json(&world.rows()[0]));
}

#[tokio::test]
async fn a_customer_cannot_give_themselves_credit_or_a_verified_email() {
    let world = World::new().await;
    world
        .db()
        .execute(
            "UPDATE customers SET email_verified = 0 WHERE id = ?1",
            [world.ada_id],
        )
        .expect("the test could not unverify Ada's email");
    let attacks = [
        (r#"{"credit_cents": 1000000}"#, "credit_cents"),
        (
            r#"{"name": "Ada", "credit_cents": 1000000}"#,
            "credit_cents",
        ),
        (r#"{"credit_cents": "1000000"}"#, "credit_cents"),
        (r#"{"Credit_Cents": 1000000}"#, "Credit_Cents"),
        (r#"{"balance_cents": 1000000}"#, "balance_cents"),
        (r#"{"email_verified": true}"#, "email_verified"),
        (r#"{"email_verified": 1}"#, "email_verified"),
        (r#"{"email": "mallory@evil.example"}"#, "email"),
        (r#"{"password_hash": "x"}"#, "password_hash"),
    ];
    for (body, field) in attacks {
        world
            .assert_patch_refused(body, Some(field), BLOCKLIST_DIAGNOSIS)
            .await;
    }

    let reply = world.patch_me(r#"{"phone": "+1 (555) 010-0199"}"#).await;
    reply.assert_status(200);
    let row = &world.rows()[0];
    if row.5.as_deref() != Some("+1 (555) 010-0199") || row.6 != 0 || row.7 != 0 {
        reply.fail(&format!(
            "Ada's row holds phone {:?}, credit_cents {}, email_verified {} after a change \
             of phone: expected the new phone, 0 and 0",
            row.5, row.6, row.7
        ));
    }
}

#[tokio::test]
async fn a_customer_cannot_reach_another_customers_row() {
    let world = World::new().await;
    let diagnosis = "The row a PATCH /me changes is the one of the session's customer, never \
                     one the body names: update `WHERE id = ?` with the session's id, and \
                     refuse `id` in the body like any field that is not the profile's.";
    let bob = world.bob_id;
    let attacks = [
        (
            format!(r#"{{"id": {bob}, "email": "mallory@evil.example"}}"#),
            "id",
        ),
        (format!(r#"{{"id": {bob}, "name": "Mallory"}}"#), "id"),
        (format!(r#"{{"id": "{bob}", "name": "Mallory"}}"#), "id"),
        (format!(r#"{{"ID": {bob}, "name": "Mallory"}}"#), "ID"),
        (
            format!(r#"{{"customer_id": {bob}, "name": "Mallory"}}"#),
            "customer_id",
        ),
    ];
    for (body, field) in &attacks {
        world
            .assert_patch_refused(body, Some(field), diagnosis)
            .await;
    }

    // Ada's own change touches her row only.
    let before = world.rows();
    let reply = world.patch_me(r#"{"name": "Mallory"}"#).await;
    reply.assert_status(200);
    let after = world.rows();
    if after[1] != before[1] || after[0].2 != "Mallory" {
        reply.fail(&format!(
            "Ada's change of her own name did not change just her name: {}; expected Ada's \
             name to change and Bob's row to stay as it was",
            changes(&before, &after)
        ));
    }
}

#[tokio::test]
async fn allowed_fields_take_strings_only_and_a_bad_body_changes_nothing() {
    let world = World::new().await;
    let diagnosis = "`name` and `phone` are strings: a number, a list, an object or a \
                     repeated key is refused with 422 before anything is stored, and a body \
                     that is not a JSON object is refused too.";
    let attacks = [
        r#"{"name": ["Ada", "admin"]}"#,
        r#"{"name": {"first": "Ada", "role": "admin"}}"#,
        r#"{"name": 42}"#,
        r#"{"phone": 5550100}"#,
        r#"{"phone": true}"#,
        r#"{"name": "Ada", "name": "Mallory"}"#,
        r#"[{"name": "Mallory"}]"#,
        r#""name""#,
        r#"{"name": ""}"#,
        r#"{"phone": "call me"}"#,
        r#"{"phone": "555x"}"#,
        r#"{"phone": "()-"}"#,
        r#"{"phone": "+1 555 0100 0100 0100 0100 010000"}"#,
        // One bad field among good ones: the good ones are not stored either.
        r#"{"name": "Mallory", "phone": ["+1 555"]}"#,
        r#"{"name": "Mallory", "phone": "call me"}"#,
        r#"{"phone": "+1 555 0100", "name": ""}"#,
        r#"{"name": "Mallory", "credit_cents": 5}"#,
    ];
    for body in attacks {
        world.assert_patch_refused(body, None, diagnosis).await;
    }
    // A name of 101 characters (here 202 bytes) is too long.
    let too_long = json!({ "name": "é".repeat(101) }).to_string();
    world.assert_patch_refused(&too_long, None, diagnosis).await;

    // The longest name and phone the rules allow: 100 characters (counted
    // as characters, not bytes) and 32.
    let longest = json!({ "name": "é".repeat(100), "phone": "+1 555 0100 0100 0100 0100 01000" });
    world
        .patch_me(&longest.to_string())
        .await
        .assert_status(200);

    // `null` for a field changes nothing: it is refused, or read as absent.
    let before = world.rows();
    let reply = world.patch_me(r#"{"name": null}"#).await;
    if world.rows() != before || ![200, 422].contains(&reply.status()) {
        reply.fail(&format!(
            "a null name answered {} and {}: expected 422, or 200 with nothing changed",
            status_text(reply.status()),
            match changes(&before, &world.rows()) {
                said if said.is_empty() => "changed nothing".to_string(),
                said => said,
            }
        ));
    }

    // `""` removes the phone; an empty object changes nothing.
    world
        .db()
        .execute(
            "UPDATE customers SET phone = '+1 555 0199' WHERE id = ?1",
            [world.ada_id],
        )
        .expect("the test could not set Ada's phone");
    let reply = world.patch_me(r#"{"phone": ""}"#).await;
    reply.assert_status(200);
    if world.rows()[0].5.is_some() {
        reply.fail(&format!(
            "Ada's phone is {:?} after {{\"phone\": \"\"}}, expected NULL (no phone)",
            world.rows()[0].5
        ));
    }
    let before = world.rows();
    let reply = world.patch_me("{}").await;
    reply.assert_status(200);
    if world.rows() != before {
        reply.fail(&format!(
            "an empty object changed the database: {}",
            changes(&before, &world.rows())
        ));
    }
}

#[tokio::test]
async fn registration_takes_an_email_a_name_and_a_phone_and_nothing_more() {
    let world = World::new().await;
    let diagnosis = "Registration reads the body into a struct with the fields a new \
                     customer may choose (email, name, phone) and nothing else: the role, \
                     the credit and the verified flag are the shop's to set.";
    let attacks = [
        (
            json!({"email": "eve@example.com", "name": "Eve", "role": "admin"}),
            "role",
        ),
        (
            json!({"email": "eve@example.com", "name": "Eve", "Role": "admin"}),
            "Role",
        ),
        (
            json!({"email": "eve@example.com", "name": "Eve", "credit_cents": 1000000}),
            "credit_cents",
        ),
        (
            json!({"email": "eve@example.com", "name": "Eve", "email_verified": true}),
            "email_verified",
        ),
        (
            json!({"email": "eve@example.com", "name": "Eve", "id": 1}),
            "id",
        ),
        (
            json!({"email": "eve@example.com", "name": "Eve", "password_hash": "x"}),
            "password_hash",
        ),
    ];
    for (body, field) in attacks {
        let before = world.rows();
        let reply = world.server.post("/register").json(&body).send().await;
        let after = world.rows();
        if after != before {
            reply.fail_with_diagnosis(
                &format!(
                    "a sign-up with `{field}` changed the database: {}; it answered {}, \
                     expected 422 and no account made",
                    changes(&before, &after),
                    status_text(reply.status())
                ),
                diagnosis,
            );
        }
        assert_unprocessable(
            &reply,
            &format!("POST /register with {body}"),
            Some(field),
            diagnosis,
        );
    }

    let reply = world
        .server
        .post("/register")
        .json(&json!({"email": "eve@example.com", "name": "Eve", "phone": "+33 1 23 45 67 89"}))
        .send()
        .await;
    reply.assert_status(201).assert_header("location", "/me");
    let rows = world.rows();
    let Some(eve) = rows.iter().find(|row| row.1 == "eve@example.com") else {
        reply.fail("a sign-up answered 201 but the customers table has no eve@example.com");
    };
    reply.assert_json(&customer_json(eve));
    if eve.4 != "customer"
        || eve.6 != 0
        || eve.7 != 0
        || eve.5.as_deref() != Some("+33 1 23 45 67 89")
    {
        reply.fail(&format!(
            "the new customer's row holds role {:?}, credit_cents {}, email_verified {}, phone \
             {:?}: expected \"customer\", 0, 0 and the phone sent",
            eve.4, eve.6, eve.7, eve.5
        ));
    }

    // The given rules for a sign-up still hold: an address with an @, of
    // at most 254 characters, not taken in any case.
    let longest = format!("{}@shop.example", "e".repeat(254 - "@shop.example".len()));
    let sign_ups = [
        (json!({"email": "no-at-sign", "name": "Eve"}), 422),
        (json!({"email": format!("e{longest}"), "name": "Eve"}), 422),
        (
            json!({"email": "ADA@EXAMPLE.COM", "name": "Ada again"}),
            409,
        ),
        (json!({"email": longest, "name": "Eve"}), 201),
    ];
    for (body, status) in sign_ups {
        world
            .server
            .post("/register")
            .json(&body)
            .send()
            .await
            .assert_status(status);
    }
}
