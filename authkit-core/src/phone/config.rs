//! The phone settings: [`PhoneConfig`], read from
//! `AUTHKIT_SMS_ALLOWED_COUNTRIES` and checked here, next to the phone flows.

use crate::config::{ConfigError, Env};
use crate::sms::CallingCode;

/// Where texts may go; the `phone` part of
/// [`AuthConfig`](crate::AuthConfig).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PhoneConfig {
    /// Country calling codes texts may be sent to (`None`: every country).
    /// Phone verification to another country is refused (422
    /// `phone_country_not_allowed` on `phone`) and SMS is not offered as a
    /// second factor for such a number. Allowing every country is the
    /// default and a risk: SMS pumping fraud texts premium-rate numbers in
    /// far-away ranges; list the countries your users live in.
    /// `AUTHKIT_SMS_ALLOWED_COUNTRIES` (comma-separated, e.g. `1,44,+49`;
    /// `all` for every country).
    pub allowed_countries: Option<Vec<CallingCode>>,
}

impl PhoneConfig {
    /// The country calling codes texts may go to (`None`: all).
    #[must_use]
    pub fn allowed_countries(mut self, codes: Option<Vec<CallingCode>>) -> Self {
        self.allowed_countries = codes;
        self
    }

    /// Checks that an allow-list names at least one country.
    ///
    /// # Errors
    /// `AUTHKIT_SMS_ALLOWED_COUNTRIES` for an empty list.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.allowed_countries.as_ref().is_some_and(Vec::is_empty) {
            return Err(ConfigError::new(
                "AUTHKIT_SMS_ALLOWED_COUNTRIES",
                "must name at least one calling code (or `all`)",
            ));
        }
        Ok(())
    }

    /// Reads the phone variables over the current values.
    pub(crate) fn read_env(&mut self, env: &Env<'_>) -> Result<(), ConfigError> {
        if let Some(raw) = env.get("AUTHKIT_SMS_ALLOWED_COUNTRIES") {
            self.allowed_countries = if raw.trim().eq_ignore_ascii_case("all") {
                None
            } else {
                let codes = env
                    .list(raw)
                    .map(str::parse::<CallingCode>)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|err| {
                        ConfigError::new(
                            "AUTHKIT_SMS_ALLOWED_COUNTRIES",
                            format!(
                                "{err}; expected `all` or a comma-separated list of \
                                 country calling codes such as 1,44,49"
                            ),
                        )
                    })?;
                Some(codes)
            };
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_allow_list_names_a_country() {
        PhoneConfig::default().validate().unwrap();
        let one: CallingCode = "44".parse().unwrap();
        PhoneConfig::default()
            .allowed_countries(Some(vec![one]))
            .validate()
            .unwrap();
        let err = PhoneConfig::default()
            .allowed_countries(Some(vec![]))
            .validate()
            .unwrap_err();
        assert_eq!(err.variable, "AUTHKIT_SMS_ALLOWED_COUNTRIES");
    }
}
