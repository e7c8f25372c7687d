//! Inputs that differ every run, from a seed that replays them: a shop that
//! answers from constants fails, and `--seed N` gives a learner the very
//! run that failed.

/// SplitMix64: tiny, fast, and the same numbers on every platform for a
/// seed (no crate's version can change a replay).
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
/// Words a product name is made of; non-ASCII on purpose.
const WORDS: &[&str] = &[
    "Kaffee",
    "Tasse",
    "Crème",
    "Brûlée",
    "Ñandú",
    "Straße",
    "Teekanne",
    "Mug",
    "Kettle",
    "Lantern",
    "Ökobox",
    "Smørrebrød",
    "Zeste",
    "Ćevap",
    "Socks",
    "Blanket",
    "Plant",
];
/// Letters outside ASCII a name or a password is made of.
const NON_ASCII: &[&str] = &["é", "ü", "ß", "ø", "ñ", "ł", "Ж", "λ", "日", "本"];

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// A seed for a run nobody asked to replay.
    pub fn fresh_seed() -> u64 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        // Short enough to type: `--seed 48213`.
        Rng::new(nanos ^ u64::from(std::process::id())).below(1_000_000)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (bound > 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }

    /// A number in `low..=high`.
    pub fn range(&mut self, low: i64, high: i64) -> i64 {
        low + self.below((high - low + 1) as u64) as i64
    }

    pub fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }

    fn string_from(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len).map(|_| *self.pick(alphabet) as char).collect()
    }

    /// Letters and digits, e.g. for API keys and tokens.
    pub fn alnum(&mut self, len: usize) -> String {
        self.string_from(ALNUM, len)
    }

    pub fn lower(&mut self, len: usize) -> String {
        self.string_from(LOWER, len)
    }

    /// A hexadecimal string of `len` digits.
    pub fn hex(&mut self, len: usize) -> String {
        self.string_from(b"0123456789abcdef", len)
    }

    /// A fresh email nobody else in the run has: lower case, as stored.
    pub fn email(&mut self, tag: &str) -> String {
        format!("{tag}.{}@{}.example", self.lower(8), self.lower(5))
    }

    /// A person's name with letters outside ASCII and a quote.
    pub fn person(&mut self) -> String {
        let first = [
            "Zoë", "José", "Åsa", "Ngozi", "Łukasz", "Anaïs", "O'Brien", "Jürgen",
        ];
        let last = [
            "Müller",
            "D'Angelo",
            "Søndergaard",
            "Nakamura",
            "Brontë",
            "García",
        ];
        format!("{} {}", self.pick(&first), self.pick(&last))
    }

    /// A password of 16 to 24 characters with letters outside ASCII.
    pub fn password(&mut self) -> String {
        let mut password = self.alnum(12);
        for _ in 0..self.range(4, 12) {
            let letter = *self.pick(NON_ASCII);
            password.push_str(letter);
        }
        password
    }

    /// A product name: a word or two, an ASCII-lower marker that makes it
    /// findable by this run alone, sometimes a character a `LIKE` treats
    /// specially.
    pub fn product_name(&mut self, marker: &str) -> String {
        let word = *self.pick(WORDS);
        let other = *self.pick(WORDS);
        format!("{word} {other} {marker}")
    }

    /// A stock-keeping unit: upper-case letters, digits and dashes.
    pub fn sku(&mut self) -> String {
        format!(
            "{}-{}",
            self.string_from(b"ABCDEFGHJKLMNPQRSTUVWXYZ", 4),
            self.string_from(b"0123456789", 6)
        )
    }

    /// A discount code: upper-case letters and digits.
    pub fn code(&mut self) -> String {
        self.string_from(b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789", 10)
    }

    /// A price in cents, never a round number.
    pub fn price(&mut self) -> i64 {
        self.range(101, 99_999) | 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_replays_the_same_inputs() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        assert_eq!(a.email("x"), b.email("x"));
        assert_eq!(a.password(), b.password());
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }

    #[test]
    fn ranges_hold_their_bounds() {
        let mut rng = Rng::new(7);
        for _ in 0..1000 {
            let n = rng.range(-3, 3);
            assert!((-3..=3).contains(&n));
        }
        let password = rng.password();
        assert!((16..=24).contains(&password.chars().count()), "{password}");
    }
}
