//! The shop: one program that serves the whole contract of
//! book/src/capstone/contract.md.

fn main() {
    // TODO: read the configuration, open the database, listen on
    // SHOP_BIND_ADDR and announce it, then serve the contract.
    todo!("the shop does not start yet")
}
