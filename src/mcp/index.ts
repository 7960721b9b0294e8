export { isJsonContentType, readJsonRpcId } from './jsonRpcId.js'
export type { JsonRpcId } from './jsonRpcId.js'
export {
  JSON_RPC_FORBIDDEN,
  JSON_RPC_INTERNAL_ERROR,
  JSON_RPC_UNAUTHORIZED,
  JSON_RPC_INVALID_REQUEST,
  jsonRpcErrorBody,
  plainErrorBody,
} from './jsonRpcErrorBody.js'
