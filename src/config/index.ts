export { ConfigInvalidError } from './configError.js'
export { DEFAULT_CONFIG_YAML } from './defaultConfig.js'
export { ENV_OVERRIDE_PREFIX } from './envOverrides.js'
export { CONFIG_FILE_ENV, loadConfig } from './loadConfig.js'
export type { LoadConfigOptions, LoadedConfig } from './loadConfig.js'
export type {
  AssumeRoleIdentityConfig,
  Config,
  IdentityConfig,
  McpConfig,
  McpPolicyConfig,
  RoleRuleConfig,
  StaticRouteConfig,
  WebIdentityConfig,
} from './schema.js'
export { resolveReceiveWindows } from './receiveWindows.js'
export type { ReceiveWindows } from './receiveWindows.js'
