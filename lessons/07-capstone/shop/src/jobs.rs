//! The confirmation job (lesson production/jobs).

// TODO: a paid order's confirmation job is stored in the same transaction
// that makes the order paid.
// TODO: with SHOP_RUN_JOBS=true a worker writes the email to the outbox
// within 10 seconds (the customer's email as `recipient`, `subject`
// "Your order #{id}", a body holding "#{id}"); with false, the job waits,
// and a later start with true writes it.
// TODO: however often a job runs, an order keeps exactly one confirmation.
// TODO: GET /orders/{id}/notifications answers the order's emails, oldest
// first, to the owner and to admins only.
