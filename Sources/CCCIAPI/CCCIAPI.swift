// The JSON API's types (`Components`, `Operations`) and its server protocol (`APIProtocol`) are
// generated from `openapi.yaml` at build time by swift-openapi-generator; `CCCIServer`
// implements the protocol. Change the API in the document, never in generated code.
