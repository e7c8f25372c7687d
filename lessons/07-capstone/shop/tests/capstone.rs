//! The capstone is graded black-box: these tests start your shop (the
//! `shop` binary cargo builds from src/) and speak to it only over HTTP, as
//! the contract in the book's capstone chapter says. Each test is one
//! scenario of the grader, in the order they run; the first test to run
//! grades the whole shop once (stages in order, stopping at the first
//! failure), and each then reports its own scenario.
//!
//! `cargo checker check capstone --stage NAME` runs one stage, and
//! `--seed N` replays a run's random inputs.
//!
//! Generated from the grader (testkit/grader) by
//! `cargo run -q -p grader --example test_file`: do not edit.

/// The shop cargo built beside these tests: yours, or the reference
/// solution's when the solution's tests include this file.
const SHOP: &str = match (
    option_env!("CARGO_BIN_EXE_shop"),
    option_env!("CARGO_BIN_EXE_shop-solution"),
) {
    (Some(path), _) | (None, Some(path)) => path,
    (None, None) => panic!("no shop binary is built beside these tests"),
};

#[track_caller]
fn scenario(stage: &str, name: &str) {
    grader::scenario(SHOP, stage, name);
}

mod health {
    use super::scenario;

    #[test]
    fn starts_and_is_ready() {
        scenario("health", "starts_and_is_ready");
    }

    #[test]
    fn unknown_paths_are_404_problems() {
        scenario("health", "unknown_paths_are_404_problems");
    }

    #[test]
    fn wrong_method_is_405_with_allow() {
        scenario("health", "wrong_method_is_405_with_allow");
    }

    #[test]
    fn bad_configuration_exits_with_status_1() {
        scenario("health", "bad_configuration_exits_with_status_1");
    }
}

mod accounts {
    use super::scenario;

    #[test]
    fn registers_a_customer() {
        scenario("accounts", "registers_a_customer");
    }

    #[test]
    fn taken_email_is_409() {
        scenario("accounts", "taken_email_is_409");
    }

    #[test]
    fn broken_registration_lists_every_field() {
        scenario("accounts", "broken_registration_lists_every_field");
    }

    #[test]
    fn twelve_non_ascii_characters_are_a_password() {
        scenario("accounts", "twelve_non_ascii_characters_are_a_password");
    }

    #[test]
    fn role_member_is_422_and_makes_no_account() {
        scenario("accounts", "role_member_is_422_and_makes_no_account");
    }

    #[test]
    fn login_answers_a_bearer_token() {
        scenario("accounts", "login_answers_a_bearer_token");
    }

    #[test]
    fn token_claims_are_as_stated() {
        scenario("accounts", "token_claims_are_as_stated");
    }

    #[test]
    fn me_answers_the_caller() {
        scenario("accounts", "me_answers_the_caller");
    }

    #[test]
    fn login_ignores_case_and_spaces_around_the_email() {
        scenario("accounts", "login_ignores_case_and_spaces_around_the_email");
    }

    #[test]
    fn wrong_password_and_unknown_email_are_identical_401s() {
        scenario(
            "accounts",
            "wrong_password_and_unknown_email_are_identical_401s",
        );
    }

    #[test]
    fn me_without_a_valid_token_is_401_with_www_authenticate() {
        scenario(
            "accounts",
            "me_without_a_valid_token_is_401_with_www_authenticate",
        );
    }

    #[test]
    fn admin_logs_in_and_is_admin() {
        scenario("accounts", "admin_logs_in_and_is_admin");
    }
}

mod admin {
    use super::scenario;

    #[test]
    fn creates_a_product_with_location() {
        scenario("admin", "creates_a_product_with_location");
    }

    #[test]
    fn admin_routes_are_401_anonymous_and_403_for_customers() {
        scenario(
            "admin",
            "admin_routes_are_401_anonymous_and_403_for_customers",
        );
    }

    #[test]
    fn broken_product_lists_every_field() {
        scenario("admin", "broken_product_lists_every_field");
    }

    #[test]
    fn unknown_member_or_wrong_type_is_422() {
        scenario("admin", "unknown_member_or_wrong_type_is_422");
    }

    #[test]
    fn taken_sku_is_409_with_sku() {
        scenario("admin", "taken_sku_is_409_with_sku");
    }

    #[test]
    fn bad_json_is_400_and_other_content_types_415() {
        scenario("admin", "bad_json_is_400_and_other_content_types_415");
    }

    #[test]
    fn product_has_an_etag_and_answers_304() {
        scenario("admin", "product_has_an_etag_and_answers_304");
    }

    #[test]
    fn missing_product_is_404_and_bad_id_400() {
        scenario("admin", "missing_product_is_404_and_bad_id_400");
    }

    #[test]
    fn put_without_if_match_is_428() {
        scenario("admin", "put_without_if_match_is_428");
    }

    #[test]
    fn put_with_the_current_etag_updates() {
        scenario("admin", "put_with_the_current_etag_updates");
    }

    #[test]
    fn put_with_an_old_etag_is_412() {
        scenario("admin", "put_with_an_old_etag_is_412");
    }

    #[test]
    fn put_on_a_missing_product_is_404() {
        scenario("admin", "put_on_a_missing_product_is_404");
    }

    #[test]
    fn put_with_another_products_sku_is_409() {
        scenario("admin", "put_with_another_products_sku_is_409");
    }

    #[test]
    fn creates_discount_codes() {
        scenario("admin", "creates_discount_codes");
    }

    #[test]
    fn taken_discount_code_is_409() {
        scenario("admin", "taken_discount_code_is_409");
    }

    #[test]
    fn broken_discount_codes_are_422() {
        scenario("admin", "broken_discount_codes_are_422");
    }

    #[test]
    fn lists_discount_codes_in_order_with_uses_0() {
        scenario("admin", "lists_discount_codes_in_order_with_uses_0");
    }
}

mod catalogue {
    use super::scenario;

    #[test]
    fn walks_every_page_with_next_and_link() {
        scenario("catalogue", "walks_every_page_with_next_and_link");
    }

    #[test]
    fn limit_defaults_to_20_and_caps_at_100() {
        scenario("catalogue", "limit_defaults_to_20_and_caps_at_100");
    }

    #[test]
    fn bad_limit_is_400_naming_limit() {
        scenario("catalogue", "bad_limit_is_400_naming_limit");
    }

    #[test]
    fn bad_cursor_is_400_naming_cursor() {
        scenario("catalogue", "bad_cursor_is_400_naming_cursor");
    }

    #[test]
    fn q_ignores_ascii_case() {
        scenario("catalogue", "q_ignores_ascii_case");
    }

    #[test]
    fn like_wildcards_and_non_ascii_in_q_are_plain_text() {
        scenario(
            "catalogue",
            "like_wildcards_and_non_ascii_in_q_are_plain_text",
        );
    }

    #[test]
    fn price_filters_are_inclusive() {
        scenario("catalogue", "price_filters_are_inclusive");
    }

    #[test]
    fn in_stock_filters_by_stock() {
        scenario("catalogue", "in_stock_filters_by_stock");
    }

    #[test]
    fn filters_combine_and_next_keeps_them() {
        scenario("catalogue", "filters_combine_and_next_keeps_them");
    }

    #[test]
    fn bad_filter_values_are_400_naming_them() {
        scenario("catalogue", "bad_filter_values_are_400_naming_them");
    }

    #[test]
    fn a_walk_sees_new_products_once_and_ignores_updates() {
        scenario(
            "catalogue",
            "a_walk_sees_new_products_once_and_ignores_updates",
        );
    }
}

mod cart {
    use super::scenario;

    #[test]
    fn a_new_cart_is_empty() {
        scenario("cart", "a_new_cart_is_empty");
    }

    #[test]
    fn cart_lines_are_set_and_removed_in_product_id_order() {
        scenario("cart", "cart_lines_are_set_and_removed_in_product_id_order");
    }

    #[test]
    fn a_price_change_shows_in_the_cart() {
        scenario("cart", "a_price_change_shows_in_the_cart");
    }

    #[test]
    fn bad_cart_quantities_are_422_and_change_nothing() {
        scenario("cart", "bad_cart_quantities_are_422_and_change_nothing");
    }

    #[test]
    fn an_unknown_product_in_the_cart_is_404() {
        scenario("cart", "an_unknown_product_in_the_cart_is_404");
    }

    #[test]
    fn carts_belong_to_their_customer() {
        scenario("cart", "carts_belong_to_their_customer");
    }

    #[test]
    fn cart_routes_without_a_token_are_401() {
        scenario("cart", "cart_routes_without_a_token_are_401");
    }

    #[test]
    fn emptying_the_cart_is_204() {
        scenario("cart", "emptying_the_cart_is_204");
    }
}

mod checkout {
    use super::scenario;

    #[test]
    fn checkout_charges_the_total_once() {
        scenario("checkout", "checkout_charges_the_total_once");
    }

    #[test]
    fn percent_codes_round_down() {
        scenario("checkout", "percent_codes_round_down");
    }

    #[test]
    fn fixed_codes_take_their_amount_off() {
        scenario("checkout", "fixed_codes_take_their_amount_off");
    }

    #[test]
    fn a_code_above_the_subtotal_makes_a_free_order_without_the_gateway() {
        scenario(
            "checkout",
            "a_code_above_the_subtotal_makes_a_free_order_without_the_gateway",
        );
    }

    #[test]
    fn unusable_codes_are_422_with_their_reason() {
        scenario("checkout", "unusable_codes_are_422_with_their_reason");
    }

    #[test]
    fn an_empty_cart_is_409_cart_empty() {
        scenario("checkout", "an_empty_cart_is_409_cart_empty");
    }

    #[test]
    fn more_than_the_stock_is_409_out_of_stock() {
        scenario("checkout", "more_than_the_stock_is_409_out_of_stock");
    }

    #[test]
    fn idempotency_keys_are_1_to_255_visible_characters() {
        scenario(
            "checkout",
            "idempotency_keys_are_1_to_255_visible_characters",
        );
    }

    #[test]
    fn a_repeated_checkout_replays_its_answer() {
        scenario("checkout", "a_repeated_checkout_replays_its_answer");
    }

    #[test]
    fn a_refused_checkout_replays_its_refusal_after_a_restock() {
        scenario(
            "checkout",
            "a_refused_checkout_replays_its_refusal_after_a_restock",
        );
    }

    #[test]
    fn a_declined_payment_is_402_and_changes_nothing() {
        scenario("checkout", "a_declined_payment_is_402_and_changes_nothing");
    }

    #[test]
    fn two_unavailable_answers_then_a_charge_is_201() {
        scenario("checkout", "two_unavailable_answers_then_a_charge_is_201");
    }

    #[test]
    fn an_unavailable_gateway_is_502_after_three_attempts() {
        scenario(
            "checkout",
            "an_unavailable_gateway_is_502_after_three_attempts",
        );
    }

    #[test]
    fn a_silent_gateway_is_504_and_a_retry_reuses_the_gateway_key() {
        scenario(
            "checkout",
            "a_silent_gateway_is_504_and_a_retry_reuses_the_gateway_key",
        );
    }

    #[test]
    fn a_gateway_500_is_502_without_its_body() {
        scenario("checkout", "a_gateway_500_is_502_without_its_body");
    }

    #[test]
    fn a_201_that_is_not_a_charge_is_502() {
        scenario("checkout", "a_201_that_is_not_a_charge_is_502");
    }
}

mod orders {
    use super::scenario;

    #[test]
    fn orders_lists_only_the_callers_orders() {
        scenario("orders", "orders_lists_only_the_callers_orders");
    }

    #[test]
    fn an_order_is_visible_to_its_owner_and_admins_only() {
        scenario("orders", "an_order_is_visible_to_its_owner_and_admins_only");
    }

    #[test]
    fn cancelling_a_paid_order_gives_its_stock_back() {
        scenario("orders", "cancelling_a_paid_order_gives_its_stock_back");
    }

    #[test]
    fn a_shipped_order_cannot_be_cancelled() {
        scenario("orders", "a_shipped_order_cannot_be_cancelled");
    }

    #[test]
    fn admin_orders_hold_every_order_of_the_run() {
        scenario("orders", "admin_orders_hold_every_order_of_the_run");
    }
}

mod live {
    use super::scenario;

    #[test]
    fn event_stream_replays_pending_then_paid_and_stays_open() {
        scenario(
            "live",
            "event_stream_replays_pending_then_paid_and_stays_open",
        );
    }

    #[test]
    fn shipping_sends_shipped_and_ends_the_stream() {
        scenario("live", "shipping_sends_shipped_and_ends_the_stream");
    }

    #[test]
    fn last_event_id_resumes_after_it() {
        scenario("live", "last_event_id_resumes_after_it");
    }

    #[test]
    fn two_streams_each_carry_only_their_order() {
        scenario("live", "two_streams_each_carry_only_their_order");
    }

    #[test]
    fn strangers_and_anonymous_callers_get_no_stream() {
        scenario("live", "strangers_and_anonymous_callers_get_no_stream");
    }
}

mod jobs {
    use super::scenario;

    #[test]
    fn paid_order_gets_exactly_one_confirmation() {
        scenario("jobs", "paid_order_gets_exactly_one_confirmation");
    }

    #[test]
    fn sigterm_exits_with_status_0() {
        scenario("jobs", "sigterm_exits_with_status_0");
    }

    #[test]
    fn without_the_worker_the_confirmation_waits() {
        scenario("jobs", "without_the_worker_the_confirmation_waits");
    }

    #[test]
    fn the_worker_catches_up_after_a_restart() {
        scenario("jobs", "the_worker_catches_up_after_a_restart");
    }
}

mod attacks {
    use super::scenario;

    #[test]
    fn injection_in_q_finds_only_names_that_contain_it() {
        scenario("attacks", "injection_in_q_finds_only_names_that_contain_it");
    }

    #[test]
    fn boolean_probes_get_the_same_answer() {
        scenario("attacks", "boolean_probes_get_the_same_answer");
    }

    #[test]
    fn injection_leaves_catalogue_and_accounts_as_they_were() {
        scenario(
            "attacks",
            "injection_leaves_catalogue_and_accounts_as_they_were",
        );
    }

    #[test]
    fn injection_in_numbers_cursors_and_ids_is_400() {
        scenario("attacks", "injection_in_numbers_cursors_and_ids_is_400");
    }

    #[test]
    fn injection_in_login_email_and_discount_code_is_refused() {
        scenario(
            "attacks",
            "injection_in_login_email_and_discount_code_is_refused",
        );
    }

    #[test]
    fn another_customers_order_is_404_like_a_missing_one() {
        scenario(
            "attacks",
            "another_customers_order_is_404_like_a_missing_one",
        );
    }

    #[test]
    fn unlisted_members_are_422_and_change_nothing() {
        scenario("attacks", "unlisted_members_are_422_and_change_nothing");
    }

    #[test]
    fn forged_tokens_are_401() {
        scenario("attacks", "forged_tokens_are_401");
    }

    #[test]
    fn a_role_claim_makes_nobody_an_admin() {
        scenario("attacks", "a_role_claim_makes_nobody_an_admin");
    }

    #[test]
    fn a_token_the_grader_signs_works() {
        scenario("attacks", "a_token_the_grader_signs_works");
    }

    #[test]
    fn sixth_login_attempt_is_429_with_retry_after() {
        scenario("attacks", "sixth_login_attempt_is_429_with_retry_after");
    }

    #[test]
    fn twenty_wrong_passwords_at_once_get_five_401s() {
        scenario("attacks", "twenty_wrong_passwords_at_once_get_five_401s");
    }

    #[test]
    fn security_headers_on_every_status() {
        scenario("attacks", "security_headers_on_every_status");
    }

    #[test]
    fn no_secret_in_the_shop_output() {
        scenario("attacks", "no_secret_in_the_shop_output");
    }
}

mod load {
    use super::scenario;

    #[test]
    fn first_round_answers_every_checkout_in_time() {
        scenario("load", "first_round_answers_every_checkout_in_time");
    }

    #[test]
    fn first_round_never_oversells() {
        scenario("load", "first_round_never_oversells");
    }

    #[test]
    fn first_round_counts_code_uses_exactly() {
        scenario("load", "first_round_counts_code_uses_exactly");
    }

    #[test]
    fn first_round_orders_match_the_charges() {
        scenario("load", "first_round_orders_match_the_charges");
    }

    #[test]
    fn first_round_confirms_every_order() {
        scenario("load", "first_round_confirms_every_order");
    }

    #[test]
    fn second_round_answers_every_checkout_in_time() {
        scenario("load", "second_round_answers_every_checkout_in_time");
    }

    #[test]
    fn second_round_never_oversells() {
        scenario("load", "second_round_never_oversells");
    }

    #[test]
    fn second_round_orders_match_the_charges() {
        scenario("load", "second_round_orders_match_the_charges");
    }

    #[test]
    fn second_round_confirms_every_order() {
        scenario("load", "second_round_confirms_every_order");
    }
}
