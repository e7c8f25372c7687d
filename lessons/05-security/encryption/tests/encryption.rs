//! Tests for security/encryption: the customers' phone numbers, saved and
//! read over HTTP on a real SQLite file, which the tests then read as an
//! attacker with a copy of the database would: the file's bytes, the
//! `phone_*` columns, and what comes back once they change them.
//!
//! Each test pairs legitimate use (a customer saves a phone and reads it
//! back, before and after the keys rotate) with an attack that must fail,
//! so that the starter, whose home-made encryption every attack defeats,
//! passes none of them. The stated choices: a value that does not decrypt
//! (changed, moved to another row, under a key the shop does not have) is
//! `500 Internal Server Error` as `application/problem+json` that shows no
//! phone; the associated data is the customer's id, so a value decrypts
//! only on its own row.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rusqlite::{Connection, params};
use security_encryption::{Keyring, Settings, add_customer, add_session, app, create_schema};
use testkit::tempfile::TempDir;
use testkit::trace::Recording;
use testkit::{Reply, TestServer, json, quote};
use tracing::Level;

/// Ada's phone: the one the attacker in these tests knows.
const ADA_PHONE: &str = "+44 20 7946 0958";

/// Bob's phone: as long as Ada's, so a shared key stream shows whole.
const BOB_PHONE: &str = "+33 1 70 36 41 29";

/// Carol's phone.
const CAROL_PHONE: &str = "+1 415 555 0132";

const ADA_TOKEN: &str = "ada-session-token-4c7d9e1f";
const BOB_TOKEN: &str = "bob-session-token-8a2b6c0e";
const CAROL_TOKEN: &str = "carol-session-token-3f5e7d9b";

/// A key of 32 bytes, in base64, made from `seed`.
fn key(seed: u8) -> String {
    let bytes: Vec<u8> = (0..32u8)
        .map(|i| i.wrapping_mul(seed).wrapping_add(seed.wrapping_mul(31)))
        .collect();
    STANDARD.encode(bytes)
}

/// The key ring with the keys `ids` (each id's key made from `seed`), that
/// encrypts with `current`.
fn ring(current: &str, keys: &[(&str, u8)]) -> Keyring {
    let encoded: Vec<(String, String)> = keys
        .iter()
        .map(|(id, seed)| (id.to_string(), key(*seed)))
        .collect();
    let pairs: Vec<(&str, &str)> = encoded
        .iter()
        .map(|(id, key)| (id.as_str(), key.as_str()))
        .collect();
    Keyring::new(current, &pairs).expect("the test's keys make a key ring")
}

/// A shop's database in a folder of its own, with Ada (1), Bob (2) and
/// Carol (3), each logged in.
struct Shop {
    _folder: TempDir,
    path: PathBuf,
}

impl Shop {
    fn new() -> Shop {
        let folder = TempDir::new().expect("the test could make a temporary folder");
        let path = folder.path().join("shop.db");
        let db = Connection::open(&path).expect("the test could make a database file");
        create_schema(&db).expect("create_schema works on a new database");
        for (email, name, token) in [
            ("ada@example.com", "Ada", ADA_TOKEN),
            ("bob@example.com", "Bob", BOB_TOKEN),
            ("carol@example.com", "Carol", CAROL_TOKEN),
        ] {
            let id = add_customer(&db, email, name).expect("the test could add a customer");
            add_session(&db, token, id, i64::from(i32::MAX)).expect("the test could add a session");
        }
        Shop {
            _folder: folder,
            path,
        }
    }

    /// The shop served with the key ring `keys` (a new start of the app:
    /// only the database is kept).
    async fn serve(&self, keys: Keyring) -> TestServer {
        TestServer::spawn(app(Settings {
            database_path: self.path.clone(),
            keys,
        }))
        .await
    }

    /// A connection of the test's own to the shop's database.
    fn db(&self) -> Connection {
        Connection::open(&self.path).expect("the test could open the shop's database")
    }

    /// Customer `id`'s `phone_*` columns as stored.
    fn stored(&self, id: i64) -> Stored {
        self.db()
            .query_row(
                "SELECT phone_key_id, phone_nonce, phone_ciphertext FROM customers WHERE id = ?1",
                [id],
                |row| {
                    Ok(Stored {
                        key_id: row.get(0)?,
                        nonce: row.get(1)?,
                        ciphertext: row.get(2)?,
                    })
                },
            )
            .expect("the test could read the phone_* columns")
    }

    /// Writes `stored` into customer `id`'s `phone_*` columns.
    fn store(&self, id: i64, stored: &Stored) {
        self.db()
            .execute(
                "UPDATE customers SET phone_key_id = ?2, phone_nonce = ?3, phone_ciphertext = ?4
                 WHERE id = ?1",
                params![id, stored.key_id, stored.nonce, stored.ciphertext],
            )
            .expect("the test could change the phone_* columns");
    }

    /// Every byte of the database's files: what a stolen copy holds.
    fn file_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        for suffix in ["", "-wal", "-journal"] {
            let mut name = self.path.clone().into_os_string();
            name.push(suffix);
            if let Ok(content) = std::fs::read(Path::new(&name)) {
                bytes.extend(content);
            }
        }
        bytes
    }
}

/// A phone as the three `phone_*` columns hold it.
#[derive(Clone, Debug, PartialEq)]
struct Stored {
    key_id: Option<String>,
    nonce: Option<Vec<u8>>,
    ciphertext: Option<Vec<u8>>,
}

impl Stored {
    fn key_id(&self) -> &str {
        self.key_id.as_deref().unwrap_or("<NULL>")
    }

    fn nonce(&self) -> &[u8] {
        self.nonce.as_deref().unwrap_or_default()
    }

    fn ciphertext(&self) -> &[u8] {
        self.ciphertext.as_deref().unwrap_or_default()
    }

    fn describe(&self) -> String {
        format!(
            "phone_key_id {:?}, phone_nonce {}, phone_ciphertext {}",
            self.key_id(),
            hex(self.nonce()),
            hex(self.ciphertext())
        )
    }
}

fn hex(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "<empty or NULL>".to_string();
    }
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Saves `phone` as the customer of `token`; fails unless it is saved.
async fn save(server: &TestServer, token: &str, phone: &str) -> Reply {
    let reply = server
        .put("/me/phone")
        .header("authorization", &format!("Bearer {token}"))
        .json(&json!({ "phone": phone }))
        .send()
        .await;
    reply.assert_status(200);
    if reply.json()["phone"] != json!(phone) {
        reply.fail(&format!(
            "the saved phone came back as {}, expected {}",
            reply.json()["phone"],
            quote(phone)
        ));
    }
    reply
}

/// `GET /me` as the customer of `token`.
async fn me(server: &TestServer, token: &str) -> Reply {
    server
        .get("/me")
        .header("authorization", &format!("Bearer {token}"))
        .send()
        .await
}

/// Fails unless `GET /me` as the customer of `token` shows `phone`;
/// `when` says what happened before.
async fn assert_reads(server: &TestServer, token: &str, phone: &str, when: &str) {
    let reply = me(server, token).await;
    if reply.status() != 200 {
        reply.fail_with_diagnosis(
            &format!(
                "expected 200 OK with the phone {} {when}, got {}",
                quote(phone),
                testkit::status_text(reply.status())
            ),
            "  A value the shop wrote must decrypt with the key its phone_key_id names, \
             with the same associated data it was encrypted with.",
        );
    }
    let shown = reply.json()["phone"].clone();
    if shown != json!(phone) {
        reply.fail(&format!(
            "the customer's phone came back as {shown} {when}, expected {}",
            quote(phone)
        ));
    }
}

/// Fails unless `GET /me` as the customer of `token` is a `500` problem
/// that shows none of `phones`: the attack `attack` was refused.
async fn assert_refused(
    server: &TestServer,
    token: &str,
    attack: &str,
    phones: &[&str],
    why: &str,
) {
    let reply = me(server, token).await;
    if reply.status() == 200 {
        reply.fail_with_diagnosis(
            &format!(
                "the shop showed the phone {} after {attack}: it believed a value it \
                 did not write",
                reply.json()["phone"]
            ),
            why,
        );
    }
    if reply.status() != 500 {
        reply.fail_with_diagnosis(
            &format!(
                "expected 500 Internal Server Error (a problem, not a panic) after {attack}, \
                 got {}",
                testkit::status_text(reply.status())
            ),
            "  A value that does not decrypt is an error of the server's data: answer 500 \
             with a problem that says nothing more, never a panic (check the nonce's \
             length before you use it) and never an empty phone.",
        );
    }
    reply.assert_content_type("application/problem+json");
    for phone in phones {
        if reply.text().contains(phone) {
            reply.fail(&format!(
                "the 500 after {attack} shows the phone {}",
                quote(phone)
            ));
        }
    }
}

/// The bytes of `a` XOR `b` (as far as the shorter goes).
fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

/// The ways `phone` may show in `bytes`: a description of the first found.
fn plaintext_in(bytes: &[u8], phone: &str) -> Option<String> {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let forms = [
        ("as it is", phone.as_bytes().to_vec()),
        ("as its digits", digits.clone().into_bytes()),
        ("in base64", STANDARD.encode(phone).into_bytes()),
        (
            "in base64, digits only",
            STANDARD.encode(&digits).into_bytes(),
        ),
        ("in hex", hex(phone.as_bytes()).into_bytes()),
    ];
    forms.into_iter().find_map(|(how, needle)| {
        bytes
            .windows(needle.len())
            .any(|window| window == needle.as_slice())
            .then(|| how.to_string())
    })
}

#[tokio::test]
async fn a_phone_is_stored_and_logged_only_encrypted() {
    let shop = Shop::new();
    let recording = Recording::start();
    let server = shop.serve(ring("1", &[("1", 7)])).await;
    let reply = me(&server, ADA_TOKEN).await;
    reply.assert_status(200);
    if reply.json()["phone"] != json!(null) {
        reply.fail("expected `\"phone\": null` for a customer who saved no phone");
    }
    save(&server, ADA_TOKEN, ADA_PHONE).await;
    save(&server, BOB_TOKEN, BOB_PHONE).await;
    assert_reads(&server, ADA_TOKEN, ADA_PHONE, "after Ada saved it").await;
    for phone in ["", "   ", &"9".repeat(33)] {
        server
            .put("/me/phone")
            .header("authorization", &format!("Bearer {CAROL_TOKEN}"))
            .json(&json!({ "phone": phone }))
            .send()
            .await
            .assert_status(422)
            .assert_content_type("application/problem+json");
    }
    save(&server, CAROL_TOKEN, &"7".repeat(32)).await;
    server
        .get("/me")
        .header("authorization", "Bearer not-a-session")
        .send()
        .await
        .assert_status(401);
    server
        .put("/me/phone")
        .json(&json!({ "phone": CAROL_PHONE }))
        .send()
        .await
        .assert_status(401);
    assert_reads(&server, BOB_TOKEN, BOB_PHONE, "after Bob saved it").await;

    let bytes = shop.file_bytes();
    for phone in [ADA_PHONE, BOB_PHONE] {
        if let Some(how) = plaintext_in(&bytes, phone) {
            panic!(
                "\nthe database file holds the phone {} {how}: whoever copies the file \
                 reads it\n  request:  PUT /me/phone {{\"phone\": {}}}\n  The phone_* columns \
                 must hold only what the cipher made of it; encoding (base64, hex) is not \
                 encryption.",
                quote(phone),
                quote(phone)
            );
        }
    }
    let mut lines: Vec<String> = recording.spans();
    for level in [
        Level::ERROR,
        Level::WARN,
        Level::INFO,
        Level::DEBUG,
        Level::TRACE,
    ] {
        lines.extend(recording.events_at(level));
    }
    for line in &lines {
        for phone in [ADA_PHONE, BOB_PHONE] {
            let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
            assert!(
                !line.contains(phone) && !line.contains(&digits),
                "\nthe log shows the phone {} that PUT /me/phone saved: encrypted in the \
                 database, it is in plain text in the logs\n  the line: {line}\n  Log that \
                 a phone was saved (the customer's id, the key id), not the phone.",
                quote(phone)
            );
        }
    }

    let ada = shop.stored(1);
    let bob = shop.stored(2);
    let ada_stream = xor(ada.ciphertext(), ADA_PHONE.as_bytes());
    let bob_stream = xor(bob.ciphertext(), BOB_PHONE.as_bytes());
    let common = ada_stream.len().min(bob_stream.len());
    assert!(
        common == 0 || ada_stream[..common] != bob_stream[..common],
        "\nAda's and Bob's phones are encrypted with the same key stream: whoever knows \
         Ada's phone ({}) XORs it with her ciphertext and reads Bob's\n  Ada: {}\n  Bob: \
         {}\n  ciphertext XOR phone, both: {}\n  A stream of key bytes used twice (a \
         constant nonce, XOR with the key) is broken by one known plaintext. Use an AEAD \
         (AES-256-GCM) with a fresh random nonce for every value.",
        quote(ADA_PHONE),
        ada.describe(),
        bob.describe(),
        hex(&ada_stream[..common])
    );
    assert!(
        ada.ciphertext().len() > ADA_PHONE.len(),
        "\nAda's ciphertext is no longer than her phone ({} bytes for {} bytes): it carries \
         no authentication tag, so a change to it cannot be noticed\n  Ada: {}\n  An AEAD \
         adds a tag (16 bytes for AES-GCM) that decryption checks.",
        ada.ciphertext().len(),
        ADA_PHONE.len(),
        ada.describe()
    );

    // The database goes away: the next connection finds an empty file.
    std::fs::remove_file(&shop.path).expect("the test could remove the database file");
    let reply = me(&server, ADA_TOKEN).await;
    reply.assert_status(500);
    reply.assert_content_type("application/problem+json");
}

#[tokio::test]
async fn the_same_phone_never_encrypts_the_same_way_twice() {
    let shop = Shop::new();
    let keys = || ring("1", &[("1", 7)]);
    let server = shop.serve(keys()).await;
    save(&server, ADA_TOKEN, ADA_PHONE).await;
    save(&server, BOB_TOKEN, ADA_PHONE).await;
    let ada = shop.stored(1);
    let bob = shop.stored(2);
    assert_reads(
        &server,
        BOB_TOKEN,
        ADA_PHONE,
        "after Bob saved Ada's phone as his",
    )
    .await;
    assert!(
        ada.ciphertext() != bob.ciphertext() && ada.nonce() != bob.nonce(),
        "\nAda and Bob saved the same phone, and the database shows it: the same \
         ciphertext or the same nonce\n  Ada: {}\n  Bob: {}\n  Equal ciphertexts tell \
         whoever reads the table which customers share a phone (and a reused GCM nonce \
         gives the key stream away). Draw a fresh random nonce for every value.",
        ada.describe(),
        bob.describe()
    );

    let mut seen = vec![ada.clone()];
    for round in 1..=8 {
        save(&server, ADA_TOKEN, ADA_PHONE).await;
        let now = shop.stored(1);
        if let Some(before) = seen.iter().find(|before| before.nonce() == now.nonce()) {
            panic!(
                "\nAda saved the same phone again (save {round}) and got a nonce she had \
                 before: a nonce is reused under one key\n  before: {}\n  now:    {}\n  A \
                 nonce derived from the customer (or from anything that repeats) is used \
                 again every time she saves. Draw 96 random bits for every value.",
                before.describe(),
                now.describe()
            );
        }
        seen.push(now);
    }
    drop(server);
    // A new start of the app: a nonce kept in memory (a counter) starts over.
    let server = shop.serve(keys()).await;
    save(&server, ADA_TOKEN, ADA_PHONE).await;
    let now = shop.stored(1);
    if let Some(before) = seen.iter().find(|before| before.nonce() == now.nonce()) {
        panic!(
            "\nafter the shop restarted, Ada's phone got a nonce it had before: the nonces \
             start over at every start\n  before: {}\n  now:    {}\n  A counter in memory \
             repeats once the shop restarts. Draw 96 random bits for every value.",
            before.describe(),
            now.describe()
        );
    }
    assert_reads(&server, ADA_TOKEN, ADA_PHONE, "after the shop restarted").await;
}

#[tokio::test]
async fn a_changed_value_is_refused() {
    let shop = Shop::new();
    let server = shop.serve(ring("1", &[("1", 7)])).await;
    save(&server, ADA_TOKEN, ADA_PHONE).await;
    let original = shop.stored(1);
    let ciphertext = original.ciphertext().to_vec();
    let nonce = original.nonce().to_vec();
    let mut attacks: Vec<(&str, Stored)> = Vec::new();
    let mut flipped = ciphertext.clone();
    flipped[0] ^= 0x01;
    attacks.push((
        "flipping the lowest bit of the ciphertext's first byte",
        Stored {
            ciphertext: Some(flipped),
            ..original.clone()
        },
    ));
    let mut flipped = ciphertext.clone();
    if let Some(last) = flipped.last_mut() {
        *last ^= 0x80;
    }
    attacks.push((
        "flipping a bit of the ciphertext's last byte",
        Stored {
            ciphertext: Some(flipped),
            ..original.clone()
        },
    ));
    let mut other_nonce = nonce.clone();
    if let Some(first) = other_nonce.first_mut() {
        *first ^= 0x01;
    }
    attacks.push((
        "changing a bit of the nonce",
        Stored {
            nonce: Some(other_nonce),
            ..original.clone()
        },
    ));
    attacks.push((
        "cutting the nonce to 11 bytes",
        Stored {
            nonce: Some(nonce[..nonce.len().saturating_sub(1)].to_vec()),
            ..original.clone()
        },
    ));
    attacks.push((
        "cutting the ciphertext to its first 4 bytes",
        Stored {
            ciphertext: Some(ciphertext[..4.min(ciphertext.len())].to_vec()),
            ..original.clone()
        },
    ));
    attacks.push((
        "appending a byte to the ciphertext",
        Stored {
            ciphertext: Some([ciphertext.as_slice(), &[0]].concat()),
            ..original.clone()
        },
    ));

    for (attack, tampered) in attacks {
        shop.store(1, &tampered);
        assert_refused(
            &server,
            ADA_TOKEN,
            &format!("{attack} in Ada's row ({})", tampered.describe()),
            &[ADA_PHONE],
            "  Encryption alone does not notice a change: the changed bytes decrypt to other \
             bytes. An AEAD's tag does: decryption fails, and the failure must reach the \
             answer (not an empty or a replaced phone).",
        )
        .await;
        shop.store(1, &original);
        assert_reads(&server, ADA_TOKEN, ADA_PHONE, "once her row was put back").await;
    }
}

#[tokio::test]
async fn a_value_moved_to_another_row_is_refused() {
    let shop = Shop::new();
    let server = shop.serve(ring("1", &[("1", 7)])).await;
    save(&server, ADA_TOKEN, ADA_PHONE).await;
    save(&server, BOB_TOKEN, BOB_PHONE).await;
    let ada = shop.stored(1);
    let bob = shop.stored(2);

    shop.store(3, &ada);
    assert_refused(
        &server,
        CAROL_TOKEN,
        &format!(
            "copying Ada's phone_* columns onto Carol's row ({})",
            ada.describe()
        ),
        &[ADA_PHONE],
        "  Whoever can write to the table (an SQL injection, a support tool) copies a value \
         onto their own row and has the shop decrypt it for them. Bind each value to its \
         row: the customer's id as the AEAD's associated data, when it encrypts and when it \
         decrypts.",
    )
    .await;
    assert_reads(
        &server,
        ADA_TOKEN,
        ADA_PHONE,
        "while a copy of her value sat on Carol's row",
    )
    .await;

    shop.store(1, &bob);
    shop.store(2, &ada);
    for (token, attack) in [
        (
            ADA_TOKEN,
            "swapping Ada's and Bob's phone_* columns, as Ada",
        ),
        (
            BOB_TOKEN,
            "swapping Ada's and Bob's phone_* columns, as Bob",
        ),
    ] {
        assert_refused(
            &server,
            token,
            attack,
            &[ADA_PHONE, BOB_PHONE],
            "  Bind each value to its row: the customer's id as the AEAD's associated data.",
        )
        .await;
    }
}

/// Fails unless `Keyring::new(current, keys)` is refused with an error
/// that names no key.
fn assert_ring_refused(current: &str, keys: &[(&str, &str)], what: &str) {
    match Keyring::new(current, keys) {
        Ok(ring) => panic!(
            "\nKeyring::new accepted {what}: {ring:?}\n  A key ring takes keys of exactly 32 \
             bytes in base64, each id once, and a current id among them."
        ),
        Err(error) => {
            let message = error.to_string();
            assert!(
                !message.trim().is_empty(),
                "\nthe error of Keyring::new for {what} says nothing: a startup error must say \
                 what is wrong"
            );
            for (_, key) in keys {
                assert!(
                    key.len() < 8 || !message.contains(key),
                    "\nthe error of Keyring::new for {what} shows the key: {message}"
                );
            }
        }
    }
}

#[tokio::test]
async fn keys_rotate_without_losing_a_phone() {
    let (one, two) = (key(7), key(13));
    let short = STANDARD.encode([5u8; 31]);
    let long = STANDARD.encode([5u8; 33]);
    assert_ring_refused("1", &[("1", &short)], "a key of 31 bytes");
    assert_ring_refused("1", &[("1", &long)], "a key of 33 bytes");
    assert_ring_refused(
        "1",
        &[("1", "not base64 at all!")],
        "a key that is not base64",
    );
    assert_ring_refused(
        "3",
        &[("1", &one), ("2", &two)],
        "a current id that is no key's",
    );
    assert_ring_refused("1", &[("1", &one), ("1", &two)], "the id 1 twice");
    assert_ring_refused("", &[("", &one)], "an empty id");
    let shown = format!("{:?}", ring("2", &[("1", 7), ("2", 13)]));
    assert!(
        !shown.contains(&one) && !shown.contains(&two) && shown.contains('2'),
        "\nthe key ring's Debug shows a key (or not its ids): {shown}"
    );

    let shop = Shop::new();
    let server = shop.serve(ring("1", &[("1", 7)])).await;
    save(&server, ADA_TOKEN, ADA_PHONE).await;
    save(&server, CAROL_TOKEN, CAROL_PHONE).await;
    let ada_before = shop.stored(1);
    assert!(
        ada_before.key_id() == "1",
        "\nAda's phone, saved while the current key was \"1\", is stored with phone_key_id \
         {:?}\n  {}\n  Store the id of the key that encrypted each value beside it: it is how \
         the shop finds the key once the keys rotate.",
        ada_before.key_id(),
        ada_before.describe()
    );
    drop(server);

    // Key 2 arrives and becomes the current one; key 1 still decrypts.
    let server = shop.serve(ring("2", &[("1", 7), ("2", 13)])).await;
    assert_reads(
        &server,
        ADA_TOKEN,
        ADA_PHONE,
        "after the keys rotated to {1, 2 (current)}: her value is under key 1",
    )
    .await;
    save(&server, BOB_TOKEN, BOB_PHONE).await;
    save(&server, ADA_TOKEN, ADA_PHONE).await;
    for (id, who) in [(1, "Ada"), (2, "Bob")] {
        let stored = shop.stored(id);
        assert!(
            stored.key_id() == "2",
            "\n{who}'s phone, saved after the keys rotated to {{1, 2 (current)}}, is stored \
             with phone_key_id {:?}, expected \"2\"\n  {}\n  Encrypt with the current key, \
             and store its id.",
            stored.key_id(),
            stored.describe()
        );
    }
    assert_reads(
        &server,
        ADA_TOKEN,
        ADA_PHONE,
        "after she saved it again under key 2",
    )
    .await;
    assert_reads(
        &server,
        CAROL_TOKEN,
        CAROL_PHONE,
        "after the keys rotated: hers is still under key 1",
    )
    .await;
    drop(server);

    // Key 1 is retired: what is still under it no longer reads.
    let server = shop.serve(ring("2", &[("2", 13)])).await;
    assert_reads(&server, ADA_TOKEN, ADA_PHONE, "after key 1 was retired").await;
    assert_reads(&server, BOB_TOKEN, BOB_PHONE, "after key 1 was retired").await;
    assert_refused(
        &server,
        CAROL_TOKEN,
        "retiring key 1 while Carol's phone is still under it",
        &[CAROL_PHONE],
        "  A value names its key; a key the shop does not have decrypts nothing, and the \
         current key must not be tried instead.",
    )
    .await;
    drop(server);

    // Another key under the id 1: Carol's value does not decrypt with it.
    let server = shop.serve(ring("2", &[("1", 29), ("2", 13)])).await;
    assert_refused(
        &server,
        CAROL_TOKEN,
        "giving the id 1 to another key",
        &[CAROL_PHONE],
        "  A key that did not encrypt a value must not decrypt it: the AEAD's tag fails.",
    )
    .await;
}

#[tokio::test]
async fn a_value_naming_another_key_is_refused() {
    let shop = Shop::new();
    let server = shop.serve(ring("2", &[("1", 7), ("2", 13)])).await;
    save(&server, ADA_TOKEN, ADA_PHONE).await;
    let original = shop.stored(1);
    for key_id in ["1", "9", "2 ", ""] {
        let renamed = Stored {
            key_id: Some(key_id.to_string()),
            ..original.clone()
        };
        shop.store(1, &renamed);
        assert_refused(
            &server,
            ADA_TOKEN,
            &format!("changing Ada's phone_key_id from \"2\" to {key_id:?}"),
            &[ADA_PHONE],
            "  Decrypt with the key the value names, and with no other: a value naming a key \
             the shop lacks is an error, and one naming another key fails its tag.",
        )
        .await;
    }
    shop.store(1, &original);
    assert_reads(
        &server,
        ADA_TOKEN,
        ADA_PHONE,
        "once her phone_key_id was put back",
    )
    .await;
}
