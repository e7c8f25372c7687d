//! Tests for database/money: amounts read from text into integer cents and
//! written back as text, exactly, at every size an `i64` of cents holds.

use database_money::Cents;

// ANCHOR: exactly
#[test]
fn amounts_are_read_from_decimal_text_exactly() {
    let cases = [
        ("19.99", 1999),
        ("0.10", 10),
        ("0.1", 10),
        ("0.29", 29),
        ("1.15", 115),
        ("4.35", 435),
        ("12", 1200),
        ("0", 0),
        ("007.50", 750),
        ("-0.05", -5),
        ("-12.34", -1234),
        // 2^53 + 1 cents: the first whole number a 64-bit float cannot hold.
        ("90071992547409.93", 9_007_199_254_740_993),
        // The largest amount an i64 of cents holds, and its negative.
        ("92233720368547758.07", i64::MAX),
        ("-92233720368547758.07", -i64::MAX),
    ];
    for (text, cents) in cases {
        let parsed = Cents::parse(text);
        assert!(
            parsed == Some(Cents(cents)),
            "\nthe amount {text:?} was read as {parsed:?}, expected Some(Cents({cents})), \
             exactly\n  call: Cents::parse({text:?})\nParse the digits as integers: an f64 \
             cannot hold every amount.\n"
        );
    }
}
// ANCHOR_END: exactly

#[test]
fn the_most_negative_amount_an_i64_of_cents_holds_is_read_too() {
    let text = "-92233720368547758.08";

    let parsed = std::panic::catch_unwind(|| Cents::parse(text));

    let shown = match &parsed {
        Ok(parsed) => format!("{parsed:?}"),
        Err(panic) => format!("a panic ({})", panic_message(&**panic)),
    };
    assert!(
        matches!(parsed, Ok(Some(Cents(i64::MIN)))),
        "\nthe amount {text:?}, i64::MIN cents, was read as {shown}, expected \
         Some(Cents({}))\n  call: Cents::parse({text:?})\nAn i64 holds one more negative number \
         than positive ones: 9223372036854775808 cents fits only as a negative amount. Read a \
         negative amount as negative all along, or negate in a wider type, such as i128.\n",
        i64::MIN
    );
}

#[test]
fn text_that_is_not_an_amount_is_refused() {
    let cases = [
        "",
        "abc",
        "12.345",
        ".5",
        "5.",
        "1,50",
        "1.5.0",
        " 1.00",
        "1.00 ",
        "+1.00",
        "1e3",
        "NaN",
        "inf",
        "-",
        "--1",
        "-.5",
        "1.-5",
        "€5",
        "٣",
        "99999999999999999999",
    ];
    for text in cases {
        let parsed = std::panic::catch_unwind(|| Cents::parse(text));
        assert!(
            matches!(parsed, Ok(None)),
            "\nthe text {text:?}, which is not an amount of the form 12.34, was read as {}, \
             expected None\n  call: Cents::parse({text:?})\n",
            match &parsed {
                Ok(parsed) => format!("{parsed:?}"),
                Err(panic) => format!("a panic ({})", panic_message(&**panic)),
            }
        );
    }
}

#[test]
fn an_amount_too_large_for_an_i64_of_cents_is_refused_without_a_panic() {
    // Each fits an i64 as written, or nearly: the overflow comes only when
    // the whole part is turned into cents, or when the cents are added.
    let cases = [
        // One cent more than i64::MAX cents, and one less than i64::MIN.
        "92233720368547758.08",
        "-92233720368547758.09",
        // A whole part that fits an i64, but not once multiplied by 100.
        "100000000000000000",
        "92233720368547759",
        "9223372036854775807",
    ];
    for text in cases {
        let parsed = std::panic::catch_unwind(|| Cents::parse(text));
        match parsed {
            Ok(None) => {}
            Ok(Some(cents)) => panic!(
                "\nthe amount {text:?}, too large for an i64 of cents, was read as \
                 Some({cents:?}), expected None\n  call: Cents::parse({text:?})\nAn overflow \
                 that wraps around gives a wrong amount: use checked_mul and checked_add.\n"
            ),
            Err(panic) => panic!(
                "\nthe amount {text:?}, too large for an i64 of cents, made Cents::parse panic \
                 ({}), expected None\n  call: Cents::parse({text:?})\nIn a debug build `*` and \
                 `+` panic on overflow: use checked_mul and checked_add, which give None.\n",
                panic_message(&*panic)
            ),
        }
    }
}

/// The message of a caught panic.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// `cents` as your `Display` writes it, or the panic it made.
fn displayed(cents: Cents) -> String {
    match std::panic::catch_unwind(|| cents.to_string()) {
        Ok(text) => format!("{text:?}"),
        Err(panic) => format!("a panic ({})", panic_message(&*panic)),
    }
}

// ANCHOR: display
#[test]
fn amounts_display_with_two_decimals() {
    let cases = [
        (1999, "19.99"),
        (5, "0.05"),
        (50, "0.50"),
        (700, "7.00"),
        (0, "0.00"),
        (-5, "-0.05"),
        (-150, "-1.50"),
        (-100, "-1.00"),
        (i64::MAX, "92233720368547758.07"),
        (i64::MIN, "-92233720368547758.08"),
    ];
    for (cents, shown) in cases {
        let text = displayed(Cents(cents));
        assert!(
            text == format!("{shown:?}"),
            "\nthe amount of {cents} cents displays as {text}, expected {shown:?}\n  call: \
             Cents({cents}).to_string()\nThe whole part is the cents divided by 100, the \
             decimals the remainder, always two of them; a negative amount keeps its sign even \
             when its whole part is 0.\n"
        );
    }
}
// ANCHOR_END: display

#[test]
fn an_amount_read_from_text_displays_with_two_decimals() {
    let cases = [
        ("19.99", "19.99"),
        ("0.5", "0.50"),
        ("7", "7.00"),
        ("0", "0.00"),
        ("-0.00", "0.00"),
        ("-0.05", "-0.05"),
        ("-12.3", "-12.30"),
        ("92233720368547758.07", "92233720368547758.07"),
    ];
    for (text, shown) in cases {
        let displayed = Cents::parse(text).map(|cents| cents.to_string());
        assert!(
            displayed.as_deref() == Some(shown),
            "\nthe amount {text:?} displays as {displayed:?}, expected Some({shown:?})\n  call: \
             Cents::parse({text:?}).map(|cents| cents.to_string())\n"
        );
    }
}

// ANCHOR: ten_cents
#[test]
fn ten_amounts_of_ten_cents_add_up_to_exactly_one_dollar() {
    let ten_cents = Cents::parse("0.10");
    assert!(
        ten_cents == Some(Cents(10)),
        "\nthe amount \"0.10\" was read as {ten_cents:?}, expected Some(Cents(10))\n  call: \
         Cents::parse(\"0.10\")\n"
    );

    // Integer cents add up exactly: 10 + 10 + ... is 100.
    let sum = Cents((0..10).map(|_| Cents(10).0).sum());

    let text = displayed(sum);
    assert!(
        text == "\"1.00\"",
        "\nten amounts of 0.10 add up to {text}, expected exactly \"1.00\"\n  call: \
         Cents(100).to_string()\nIn floating point, 0.1 added ten times is \
         0.9999999999999999.\n"
    );
}
// ANCHOR_END: ten_cents
