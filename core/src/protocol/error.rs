//! A Kafka error code with the message a response carries where the protocol
//! has a field for one. Every layer that refuses a request returns this, so the
//! handlers only copy it into the response.

pub use kafka_protocol::error::ResponseError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub error: ResponseError,
    pub message: Option<String>,
    /// Produce (KIP-467): the records refused, by index, and why.
    pub record_errors: Vec<(i32, String)>,
}

impl ApiError {
    pub fn new(error: ResponseError, message: impl Into<String>) -> ApiError {
        ApiError {
            error,
            message: Some(message.into()),
            record_errors: Vec::new(),
        }
    }

    /// The same error, naming the records it refuses (KIP-467).
    pub fn with_record_errors(mut self, records: Vec<(i32, String)>) -> ApiError {
        self.record_errors = records;
        self
    }

    pub fn code(&self) -> i16 {
        self.error.code()
    }

    pub fn message(&self) -> Option<kafka_protocol::protocol::StrBytes> {
        self.message
            .clone()
            .map(kafka_protocol::protocol::StrBytes::from_string)
    }
}

impl From<ResponseError> for ApiError {
    fn from(error: ResponseError) -> Self {
        ApiError {
            error,
            message: None,
            record_errors: Vec::new(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.message {
            Some(m) => write!(f, "{:?}: {m}", self.error),
            None => write!(f, "{:?}", self.error),
        }
    }
}
