// TLS options for kafkajs from the environment: WEIR_TLS_CA names the CA
// file, and WEIR_TLS_CERT / WEIR_TLS_KEY a client certificate and key;
// undefined (plain text) without WEIR_TLS_CA.
'use strict'
const fs = require('fs')

module.exports = function tls() {
  const env = process.env
  if (!env.WEIR_TLS_CA) return undefined
  const ssl = { ca: [fs.readFileSync(env.WEIR_TLS_CA, 'utf-8')] }
  if (env.WEIR_TLS_CERT) {
    ssl.cert = fs.readFileSync(env.WEIR_TLS_CERT, 'utf-8')
    ssl.key = fs.readFileSync(env.WEIR_TLS_KEY, 'utf-8')
  }
  return ssl
}
