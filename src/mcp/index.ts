export { isJsonContentType, readJsonRpcId } from './jsonRpcId.js'
export type { JsonRpcId } from './jsonRpcId.js'
export {
  JSON_RPC_FORBIDDEN,
  JSON_RPC_INTERNAL_ERROR,
  JSON_RPC_INVALID_PARAMS,
  JSON_RPC_PARSE_ERROR,
  JSON_RPC_UNAUTHORIZED,
  JSON_RPC_INVALID_REQUEST,
  jsonRpcErrorBody,
  plainErrorBody,
} from './jsonRpcErrorBody.js'
export { parseJsonRpc } from './jsonRpcMessage.js'
export type {
  JsonRpcCall,
  JsonRpcInvalid,
  JsonRpcMessage,
  JsonRpcNotification,
  JsonRpcRequest,
  JsonRpcResponse,
  ParsedJsonRpc,
  ParseJsonRpcOptions,
} from './jsonRpcMessage.js'
export { classifyJsonRpcMessage, isJsonRpcId } from './jsonRpcClassify.js'
export { DEFAULT_MAX_JSON_DEPTH, exceedsJsonDepth } from './jsonDepth.js'
export { jsonMemberRemovalSpans, removeJsonMembers } from './jsonMemberRemoval.js'
export type { JsonMemberPath, TextSpan } from './jsonMemberRemoval.js'
export { anyGlob, compileGlob } from './glob.js'
export type { GlobMatcher } from './glob.js'
export { McpPolicy } from './policy.js'
export type {
  McpAgentRules,
  McpPolicyDefinition,
  McpPolicyRules,
  PolicyCall,
  PolicyDecision,
  PolicyDenialReason,
} from './policy.js'
export { SseEventSplitter, rewriteSseEvent } from './sseEvents.js'
export { rewriteJsonRpcResponses, rewriteToolsList } from './toolsListRewrite.js'
export type {
  JsonRpcResponsesRewrite,
  ToolArgument,
  ToolsListRewrite,
  ToolsListRewriteOptions,
} from './toolsListRewrite.js'
export { resolveAgent } from './agentIdentity.js'
export type { AgentResolution, AgentSource, AgentSources, SelfAssertion } from './agentIdentity.js'
export { planMcpRequest } from './requestPlan.js'
export type { JsonPath, OverrideSettings, RefusedMessage, RequestPlan, RequestPlanInput } from './requestPlan.js'
export { methodClass, summarizeJsonRpc } from './methodClass.js'
