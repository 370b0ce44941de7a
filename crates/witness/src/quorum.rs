//! A `K-of-N` witness quorum: how many of the named witnesses must have cosigned a checkpoint.

/// A `K-of-N` quorum (`2-of-3`): `k` cosignatures required of `n` witnesses named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quorum {
    /// Cosignatures required.
    pub k: usize,
    /// Witnesses named.
    pub n: usize,
}

/// Why a text is not a `K-of-N` quorum; each variant carries the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuorumError {
    /// No `-of-` in it.
    #[error("{0:?}: expected K-of-N, e.g. 2-of-3")]
    Shape(String),
    /// K is not a number.
    #[error("{0:?}: K is not a number")]
    K(String),
    /// N is not a number.
    #[error("{0:?}: N is not a number")]
    N(String),
    /// K is 0 or more than N.
    #[error("{0:?}: need 1 ≤ K ≤ N")]
    Range(String),
    /// The number of witness keys given is not N.
    #[error("--witnesses {k}-of-{n} names {n} witnesses, but {given} --witness-key were given")]
    Count {
        /// Cosignatures required.
        k: usize,
        /// Witnesses named.
        n: usize,
        /// Keys given.
        given: usize,
    },
    /// A witness key is malformed (the error names it).
    #[error("--witness-key: {0}")]
    Key(#[from] tanji_ledger::CosignatureError),
}

impl Quorum {
    /// The quorum's N witness keys (as `tanji witness init` prints them), parsed; refused
    /// unless exactly N are given and each is a witness key.
    pub fn keys(
        &self,
        keys: &[String],
    ) -> Result<Vec<tanji_ledger::CosignatureVerifier>, QuorumError> {
        if keys.len() != self.n {
            return Err(QuorumError::Count {
                k: self.k,
                n: self.n,
                given: keys.len(),
            });
        }
        Ok(keys.iter().map(|k| k.parse()).collect::<Result<_, _>>()?)
    }

    /// Whether `cosigned` cosignatures meet the quorum.
    pub fn is_met(&self, cosigned: usize) -> bool {
        cosigned >= self.k
    }
}

impl std::str::FromStr for Quorum {
    type Err = QuorumError;

    fn from_str(s: &str) -> Result<Self, QuorumError> {
        let (k, n) = s
            .split_once("-of-")
            .ok_or_else(|| QuorumError::Shape(s.to_string()))?;
        let k = k
            .parse::<usize>()
            .map_err(|_| QuorumError::K(s.to_string()))?;
        let n = n
            .parse::<usize>()
            .map_err(|_| QuorumError::N(s.to_string()))?;
        if k == 0 || k > n {
            return Err(QuorumError::Range(s.to_string()));
        }
        Ok(Quorum { k, n })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_k_of_n_and_refuses_the_rest() {
        assert_eq!("2-of-3".parse(), Ok(Quorum { k: 2, n: 3 }));
        assert_eq!("1-of-1".parse(), Ok(Quorum { k: 1, n: 1 }));
        assert_eq!(
            "2/3".parse::<Quorum>(),
            Err(QuorumError::Shape("2/3".into()))
        );
        assert_eq!(
            "x-of-3".parse::<Quorum>(),
            Err(QuorumError::K("x-of-3".into()))
        );
        assert_eq!(
            "2-of-y".parse::<Quorum>(),
            Err(QuorumError::N("2-of-y".into()))
        );
        for s in ["0-of-2", "3-of-2"] {
            assert_eq!(s.parse::<Quorum>(), Err(QuorumError::Range(s.into())));
        }
        assert_eq!(
            "3-of-2".parse::<Quorum>().unwrap_err().to_string(),
            "\"3-of-2\": need 1 ≤ K ≤ N"
        );
    }

    #[test]
    fn met_at_k_cosignatures() {
        let q = Quorum { k: 2, n: 3 };
        assert!(!q.is_met(1));
        assert!(q.is_met(2) && q.is_met(3));
    }
}
