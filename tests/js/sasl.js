// SASL options for kafkajs from the environment: WEIR_SASL_MECHANISM
// (plain, scram-sha-256, scram-sha-512), WEIR_SASL_USERNAME and
// WEIR_SASL_PASSWORD; undefined (no SASL) without a mechanism.
'use strict'

module.exports = function sasl() {
  const env = process.env
  if (!env.WEIR_SASL_MECHANISM) return undefined
  return {
    mechanism: env.WEIR_SASL_MECHANISM.toLowerCase(),
    username: env.WEIR_SASL_USERNAME,
    password: env.WEIR_SASL_PASSWORD,
  }
}
