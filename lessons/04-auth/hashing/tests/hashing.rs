//! Tests for auth/hashing: the three functions called directly.
//!
//! The tests read the PHC strings `hash_password` makes with code of their
//! own (split on `$`, base64 decoded), and recompute the digest with argon2
//! from the salt and parameters the string holds: a string that only looks
//! like an argon2id hash does not pass. The hashes with older parameters or
//! other algorithms that `verify_password` and `needs_rehash` are given are
//! made here with argon2 itself.

use std::panic::{AssertUnwindSafe, catch_unwind};

use argon2::{Algorithm, Argon2, Params, Version};
use auth_hashing::{HashError, hash_password, needs_rehash, verify_password};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;

/// OWASP's minimums for argon2id (Password Storage Cheat Sheet).
const OWASP_M_KIB: u32 = 19_456;
const OWASP_T: u32 = 2;
const OWASP_P: u32 = 1;

/// The password most tests use.
const PASSWORD: &str = "correct horse battery staple";

/// `hash_password(password)`, or a failed test that says why.
#[track_caller]
fn hash(password: &str) -> String {
    match catch_unwind(|| hash_password(password)) {
        Ok(Ok(phc)) => phc,
        Ok(Err(error)) => panic!(
            "\nhash_password returned an error, expected a PHC string\n  call:  \
             hash_password({password:?})\n  error: {error:?}\n"
        ),
        Err(panic) => panic!(
            "\nhash_password panicked, expected a PHC string\n  call:  \
             hash_password({password:?})\n  panic: {}\n",
            panic_text(&panic)
        ),
    }
}

/// `verify_password(password, phc)`, with a panic turned into a failed test
/// that names the call.
#[track_caller]
fn verify(password: &str, phc: &str) -> Result<bool, HashError> {
    match catch_unwind(AssertUnwindSafe(|| verify_password(password, phc))) {
        Ok(outcome) => outcome,
        Err(panic) => panic!(
            "\nverify_password panicked, expected Ok(true), Ok(false) or an error\n  call:  \
             verify_password({password:?}, {phc:?})\n  panic: {}\n",
            panic_text(&panic)
        ),
    }
}

/// `needs_rehash(phc)`, with a panic turned into a failed test.
#[track_caller]
fn rehash(phc: &str) -> bool {
    match catch_unwind(|| needs_rehash(phc)) {
        Ok(answer) => answer,
        Err(panic) => panic!(
            "\nneeds_rehash panicked, expected true or false\n  call:  needs_rehash({phc:?})\n  \
             panic: {}\n",
            panic_text(&panic)
        ),
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// A PHC string as the tests read it.
struct Phc {
    algorithm: String,
    version: String,
    m: u32,
    t: u32,
    p: u32,
    salt: Vec<u8>,
    digest: Vec<u8>,
}

/// Reads `phc` as `$<algorithm>$v=<version>$m=<m>,t=<t>,p=<p>$<salt>$<digest>`,
/// salt and digest in base64 without padding; a failed test if it is not.
#[track_caller]
fn parse(phc: &str) -> Phc {
    let fail = |problem: &str| -> ! {
        panic!(
            "\n{problem}\n  hash_password returned: {phc:?}\n  expected the shape: \
             $argon2id$v=19$m=19456,t=2,p=1$<salt>$<digest>\nA PHC string names the \
             algorithm, its version and parameters, then the salt and the digest in base64 \
             without padding, each field after a `$`.\n"
        )
    };
    let fields: Vec<&str> = phc.split('$').collect();
    let [empty, algorithm, version, params, salt, digest] = fields[..] else {
        fail(&format!(
            "the hash has {} `$`-separated fields, expected 5 after a leading `$`",
            fields.len().saturating_sub(1)
        ));
    };
    if !empty.is_empty() {
        fail("the hash does not start with `$`");
    }
    let Some(version) = version.strip_prefix("v=") else {
        fail("the hash's second field is not a version `v=19`");
    };
    let mut m = None;
    let mut t = None;
    let mut p = None;
    for pair in params.split(',') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let Ok(value) = value.parse::<u32>() else {
            fail(&format!("the hash's parameter `{pair}` is not name=number"));
        };
        match name {
            "m" => m = Some(value),
            "t" => t = Some(value),
            "p" => p = Some(value),
            _ => {}
        }
    }
    let (Some(m), Some(t), Some(p)) = (m, t, p) else {
        fail("the hash's parameters do not name m, t and p");
    };
    let Ok(salt) = STANDARD_NO_PAD.decode(salt) else {
        fail("the hash's salt is not base64 without padding");
    };
    let Ok(digest) = STANDARD_NO_PAD.decode(digest) else {
        fail("the hash's digest is not base64 without padding");
    };
    Phc {
        algorithm: algorithm.to_string(),
        version: version.to_string(),
        m,
        t,
        p,
        salt,
        digest,
    }
}

/// A hash of `password` made here, with argon2 itself: `algorithm` at
/// these parameters, with a fixed salt.
fn made_here(
    algorithm: Algorithm,
    version: Version,
    m: u32,
    t: u32,
    p: u32,
    password: &str,
) -> String {
    let params = Params::new(m, t, p, None).expect("the test's parameters are valid");
    let salt = b"sixteen byte slt";
    let mut digest = [0u8; 32];
    Argon2::new(algorithm, version, params)
        .hash_password_into(password.as_bytes(), salt, &mut digest)
        .expect("argon2 hashes the test's password");
    let name = match algorithm {
        Algorithm::Argon2d => "argon2d",
        Algorithm::Argon2i => "argon2i",
        Algorithm::Argon2id => "argon2id",
    };
    let version = match version {
        Version::V0x10 => 16,
        Version::V0x13 => 19,
    };
    format!(
        "${name}$v={version}$m={m},t={t},p={p}${}${}",
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(digest)
    )
}

/// An argon2id hash of `password` at weaker parameters than the policy's,
/// as an older version of the shop made them: m=4096 KiB, t=1.
fn older_hash(password: &str) -> String {
    made_here(Algorithm::Argon2id, Version::V0x13, 4096, 1, 1, password)
}

#[track_caller]
fn expect_true(password: &str, phc: &str, why: &str) {
    match verify(password, phc) {
        Ok(true) => {}
        other => panic!(
            "\nverify_password rejected the right password: {other:?}, expected Ok(true)\n  \
             call: verify_password({password:?}, {phc:?})\n{why}\n"
        ),
    }
}

#[track_caller]
fn expect_false(password: &str, phc: &str, made_from: &str, why: &str) {
    match verify(password, phc) {
        Ok(false) => {}
        other => panic!(
            "\nverify_password answered {other:?} for a wrong password, expected Ok(false)\n  \
             call:      verify_password({password:?}, {phc:?})\n  hash of:   {made_from:?}\n{why}\n"
        ),
    }
}

// ANCHOR: format
#[test]
fn a_hash_is_an_argon2id_phc_string_at_owasps_parameters_or_stronger() {
    let phc = hash(PASSWORD);
    let read = parse(&phc);

    assert!(
        read.algorithm == "argon2id" && read.version == "19",
        "\nthe hash is `{}` version {}, expected argon2id version 19\n  hash_password({PASSWORD:?}) \
         returned: {phc:?}\nargon2id (the hybrid of argon2i and argon2d) is the variant OWASP \
         and RFC 9106 recommend for passwords; version 19 is the current one (0x13).\n",
        read.algorithm,
        read.version
    );
    assert!(
        read.m >= OWASP_M_KIB && read.t >= OWASP_T && read.p >= OWASP_P,
        "\nthe hash's parameters m={}, t={}, p={} are below OWASP's m=19456, t=2, p=1\n  \
         hash_password({PASSWORD:?}) returned: {phc:?}\nLowering the memory or the passes makes \
         each guess cheaper for whoever steals the table: keep at least 19 MiB (m=19456 KiB) \
         and 2 passes.\n",
        read.m,
        read.t,
        read.p
    );
}
// ANCHOR_END: format

// ANCHOR: digest
#[test]
fn the_digest_is_argon2id_of_the_password_with_the_salt_and_parameters_it_names() {
    let phc = hash(PASSWORD);
    let read = parse(&phc);

    assert!(
        read.digest.len() >= 32,
        "\nthe hash's digest is {} bytes, expected at least 32 (argon2's default)\n  \
         hash_password({PASSWORD:?}) returned: {phc:?}\n",
        read.digest.len()
    );
    let params = Params::new(read.m, read.t, read.p, Some(read.digest.len()))
        .expect("the parameters were checked above");
    let mut expected = vec![0u8; read.digest.len()];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(PASSWORD.as_bytes(), &read.salt, &mut expected)
        .expect("argon2 hashes the test's password with the hash's own salt");
    assert!(
        read.digest == expected,
        "\nthe hash's digest is not argon2id of the password with the salt and parameters \
         the hash names\n  hash_password({PASSWORD:?}) returned: {phc:?}\nThe test computed \
         argon2id itself from the password, the decoded salt and m, t, p, and got another \
         digest. Is the digest made from the password's bytes as they are, with the same \
         salt that is written into the string?\n"
    );
}
// ANCHOR_END: digest

// ANCHOR: salt
#[test]
fn every_hash_has_a_fresh_random_salt_of_at_least_16_bytes() {
    let hashes: Vec<String> = (0..3).map(|_| hash(PASSWORD)).collect();
    let salts: Vec<Vec<u8>> = hashes.iter().map(|phc| parse(phc).salt).collect();

    for (phc, salt) in hashes.iter().zip(&salts) {
        assert!(
            salt.len() >= 16,
            "\nthe hash's salt is {} bytes, expected at least 16\n  hash_password({PASSWORD:?}) \
             returned: {phc:?}\nA salt only has to be unique; 16 random bytes make a clash \
             between any two of a billion hashes practically impossible.\n",
            salt.len()
        );
    }
    let distinct: std::collections::BTreeSet<&Vec<u8>> = salts.iter().collect();
    assert!(
        distinct.len() == 3 && hashes[0] != hashes[1] && hashes[1] != hashes[2],
        "\nthree hashes of the same password share a salt, expected three different salts\n  \
         hash_password({PASSWORD:?}) returned:\n    {}\nA fixed (or reused) salt lets an \
         attacker who steals the table see which customers share a password, and attack \
         them all with one computation per guess. Draw a new random salt for every hash.\n",
        hashes.join("\n    ")
    );
}
// ANCHOR_END: salt

#[test]
fn the_right_password_verifies_whatever_characters_it_has() {
    let passwords = [
        PASSWORD,
        "Pässwörd-Ünïcødé-пароль-密码-🔑",
        "  spaces around, kept  ",
        "a$b$c,m=1,t=1$and a quote \" and a backslash \\",
        "",
    ];
    for password in passwords {
        let phc = hash(password);
        expect_true(
            password,
            &phc,
            "A password verifies against the hash made from it, whatever its characters: \
             nothing is trimmed, normalised or cut, before hashing or before verifying. (The \
             empty password too: which passwords are allowed is the registration's rule, not \
             the hash's.)",
        );
    }
}

// ANCHOR: wrong
#[test]
fn every_other_password_is_rejected_even_one_character_apart() {
    let phc = hash(PASSWORD);
    let wrong = [
        "correct horse battery stapl",                              // a prefix
        "correct horse battery staplf",                             // the last character changed
        "Correct horse battery staple",                             // the case of one letter
        "correct horse battery staple ",                            // a trailing space
        " correct horse battery staple",                            // a leading space
        "correct horse battery staple\0",                           // a NUL byte after it
        "correct horse battery staplecorrect horse battery staple", // twice
        "",
    ];
    for password in wrong {
        expect_false(
            password,
            &phc,
            PASSWORD,
            "Every password but the one the hash was made from is rejected, even one \
             character apart.",
        );
    }
}
// ANCHOR_END: wrong

#[test]
fn passwords_are_compared_as_their_bytes_without_unicode_normalisation() {
    // "café" twice: é as one code point (NFC), then as e + a combining accent (NFD).
    let composed = "caf\u{e9} au lait, s'il vous pla\u{ee}t";
    let decomposed = "cafe\u{301} au lait, s'il vous plai\u{302}t";
    let phc = hash(composed);

    expect_true(composed, &phc, "The same bytes verify.");
    expect_false(
        decomposed,
        &phc,
        composed,
        "The password is compared as the bytes it is. The same-looking text in another \
         Unicode normalisation (é as e + U+0301) is other bytes, and another password.",
    );
}

// ANCHOR: long
#[test]
fn long_passwords_are_compared_whole_not_cut_after_72_bytes() {
    let long = "x".repeat(100);
    let mut differs_at_byte_90 = long.clone();
    differs_at_byte_90.replace_range(90..91, "y");
    let very_long = "ü".repeat(600); // 1200 bytes
    let mut differs_at_the_end = very_long.clone();
    differs_at_the_end.push('!');

    let phc = hash(&long);
    expect_true(&long, &phc, "A 100-character password verifies.");
    expect_false(
        &differs_at_byte_90,
        &phc,
        &long,
        "The two passwords differ only at byte 90. bcrypt reads at most 72 bytes of a \
         password and ignores the rest; argon2 reads them all, and so must your code: \
         nothing is cut before hashing or verifying.",
    );
    let phc = hash(&very_long);
    expect_true(&very_long, &phc, "A 1200-byte password verifies.");
    expect_false(
        &differs_at_the_end,
        &phc,
        &very_long,
        "The two passwords differ only in their last character, after 1200 bytes.",
    );
}
// ANCHOR_END: long

// ANCHOR: older
#[test]
fn a_hash_made_with_older_parameters_still_verifies_with_its_own() {
    let phc = older_hash(PASSWORD);

    expect_true(
        PASSWORD,
        &phc,
        "This argon2id hash was made with m=4096, t=1 (the test made it), as an older \
         policy of the shop did. verify_password must read the parameters and the salt from \
         the stored string, not use the current policy's: customers who registered years \
         ago must still log in.",
    );
    expect_false(
        "correct horse battery stable",
        &phc,
        PASSWORD,
        "A hash with older parameters still rejects a wrong password.",
    );
}
// ANCHOR_END: older

// ANCHOR: tampered
#[test]
fn a_hash_whose_salt_digest_or_parameters_were_altered_rejects_the_password() {
    let phc = hash(PASSWORD);
    let fields: Vec<&str> = phc.split('$').collect();
    let (salt, digest) = (fields[4], fields[5]);
    let flip = |text: &str| -> String {
        // One character in the middle, to another base64 character.
        let middle = text.len() / 2;
        let old = &text[middle..middle + 1];
        let new = if old == "A" { "B" } else { "A" };
        format!("{}{new}{}", &text[..middle], &text[middle + 1..])
    };
    let altered = [
        (
            format!("$argon2id$v=19${}${}${}", fields[3], flip(salt), digest),
            "salt was changed",
        ),
        (
            format!("$argon2id$v=19${}${salt}${}", fields[3], flip(digest)),
            "digest was changed",
        ),
        (
            phc.replacen(
                &format!("t={}", parse(&phc).t),
                &format!("t={}", parse(&phc).t + 1),
                1,
            ),
            "time cost was changed",
        ),
    ];
    for (tampered, change) in altered {
        match verify(PASSWORD, &tampered) {
            Ok(false) | Err(_) => {}
            Ok(true) => panic!(
                "\nverify_password accepted a hash whose {}, expected Ok(false) or an error\n  \
                 call:        verify_password({PASSWORD:?}, {tampered:?})\n  the real hash: \
                 {phc:?}\nVerifying recomputes argon2id with the salt and every parameter \
                 the string holds, and compares the result with its digest: a change \
                 anywhere gives another result.\n",
                change
            ),
        }
    }
}
// ANCHOR_END: tampered

// ANCHOR: not_argon2id
#[test]
fn what_is_not_an_argon2id_hash_is_an_error_not_true_false_or_a_panic() {
    let not_ours = [
        (String::new(), "an empty string"),
        (
            PASSWORD.to_string(),
            "the password itself, as if stored in plain text",
        ),
        (
            "8c2d3ac0b8e0a0c2c7aa6a3ef6e5e5cc1d3d5c8cbf0c1d7b0a1a7ca2f4a2a7d4".to_string(),
            "a SHA-256 hex digest",
        ),
        (
            "$argon2id$".to_string(),
            "a PHC string cut after its algorithm",
        ),
        (
            "$2b$12$GhvMmNVjRW29ulnudl.LbuAnUtN/LRfe1JsBm1Xu6LE3059z5Tr8m".to_string(),
            "a bcrypt hash",
        ),
        (
            made_here(Algorithm::Argon2i, Version::V0x13, 19_456, 2, 1, PASSWORD),
            "an argon2i hash of the right password",
        ),
        (
            made_here(Algorithm::Argon2d, Version::V0x13, 19_456, 2, 1, PASSWORD),
            "an argon2d hash of the right password",
        ),
        (
            made_here(Algorithm::Argon2id, Version::V0x10, 19_456, 2, 1, PASSWORD),
            "an argon2id version 16 hash of the right password",
        ),
    ];
    for (phc, what) in not_ours {
        let outcome = verify(PASSWORD, &phc);
        assert!(
            outcome.is_err(),
            "\nverify_password answered {outcome:?} for {what}, expected an error\n  call: \
             verify_password({PASSWORD:?}, {phc:?})\nThe shop stores argon2id version 19 \
             hashes, and nothing else: any other stored text means something is wrong with \
             the stored data, which is an error (for the logs and an alert), not a wrong \
             password, and never a right one. Check the algorithm and the version the string \
             names before verifying: argon2's verify alone also accepts argon2i and argon2d.\n"
        );
    }
}
// ANCHOR_END: not_argon2id

// ANCHOR: rehash
#[test]
fn a_hash_needs_rehashing_exactly_when_it_is_weaker_than_the_policy() {
    let current = hash(PASSWORD);
    let argon2id = |m, t, p| made_here(Algorithm::Argon2id, Version::V0x13, m, t, p, PASSWORD);
    let cases = [
        (current, false, "a hash hash_password just made"),
        (
            argon2id(4096, 1, 1),
            true,
            "m=4096, t=1: an older, weaker policy",
        ),
        (
            argon2id(19_455, 2, 1),
            true,
            "m=19455: one KiB below the policy",
        ),
        (
            argon2id(65_536, 1, 1),
            true,
            "t=1: more memory, but one pass only",
        ),
        (
            argon2id(19_456, 2, 1),
            false,
            "exactly the policy's parameters",
        ),
        (
            argon2id(65_536, 3, 2),
            false,
            "m=65536, t=3, p=2: stronger than the policy",
        ),
        (
            made_here(Algorithm::Argon2i, Version::V0x13, 19_456, 2, 1, PASSWORD),
            true,
            "argon2i at the policy's parameters",
        ),
        (
            "not a hash".to_string(),
            true,
            "text that is not a PHC string",
        ),
    ];
    for (phc, expected, what) in cases {
        let answer = rehash(&phc);
        assert!(
            answer == expected,
            "\nneeds_rehash answered {answer} for {what}, expected {expected}\n  call: \
             needs_rehash({phc:?})\nA hash needs rehashing unless it is argon2id version 19 \
             with m, t and p each at least the policy's (19456, 2, 1): then, at the \
             customer's next login, the shop hashes the password again. A stronger hash is \
             never replaced by a weaker one.\n"
        );
    }
}
// ANCHOR_END: rehash
