//! Bearer tokens (lesson auth/tokens): HS256 JWTs whose `sub` is the
//! customer's id. The token proves who calls, nothing more: the role is
//! read from the database on every request.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// How long a token is good for, in seconds.
pub const TOKEN_TTL_SECS: i64 = 3600;

/// Clock difference tolerated on `exp`.
const LEEWAY_SECS: u64 = 60;

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    iat: i64,
    exp: i64,
}

/// Makes and checks tokens with the shop's secret.
#[derive(Clone)]
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl Tokens {
    /// The key is the secret's bytes as written (not decoded from hex).
    pub fn new(secret: &str) -> Result<Tokens, jsonwebtoken::errors::Error> {
        Ok(Tokens {
            encoding: EncodingKey::from_secret(secret.as_bytes())?,
            decoding: DecodingKey::from_secret(secret.as_bytes())?,
        })
    }

    /// A token for `customer_id`, issued at `now` (Unix seconds).
    pub fn issue(&self, customer_id: i64, now: i64) -> Result<String, jsonwebtoken::errors::Error> {
        let claims = Claims {
            sub: customer_id.to_string(),
            iat: now,
            exp: now + TOKEN_TTL_SECS,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// The customer id a valid token names; `None` for any token that is
    /// not: another algorithm than HS256 (`none` included), a bad
    /// signature, an `exp` in the past, a `sub` that is not an id string.
    /// Whether the id still names an account is the caller's check.
    pub fn verify(&self, token: &str) -> Option<i64> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .ok()?
            .claims;
        let digits = claims.sub.bytes().all(|b| b.is_ascii_digit());
        if !digits {
            return None;
        }
        claims.sub.parse().ok()
    }
}
