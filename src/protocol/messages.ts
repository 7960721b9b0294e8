/**
 * The shapes of decoded ext_proc messages as `@grpc/proto-loader` produces them with our
 * options (`protoLoader.ts`): proto field names, enums as strings, absent fields absent, and the
 * name of the set oneof case in `request` / `response`. Only the fields we read or write.
 */

export interface HeaderValueMessage {
  key?: string
  value?: string
  raw_value?: Buffer
}

export interface HeaderMapMessage {
  headers?: HeaderValueMessage[]
}

/** `google.protobuf.Value` as proto-loader decodes it (camelCase, with `kind`). */
export interface StructValueMessage {
  kind?: string
  nullValue?: unknown
  numberValue?: number
  stringValue?: string
  boolValue?: boolean
  structValue?: StructMessage
  listValue?: { values?: StructValueMessage[] }
}

export interface StructMessage {
  fields?: Record<string, StructValueMessage>
}

export type BodySendMode = 'NONE' | 'STREAMED' | 'BUFFERED' | 'BUFFERED_PARTIAL' | 'FULL_DUPLEX_STREAMED' | 'GRPC'

export interface ProcessingRequestMessage {
  request?:
    | 'request_headers'
    | 'response_headers'
    | 'request_body'
    | 'response_body'
    | 'request_trailers'
    | 'response_trailers'
  request_headers?: { headers?: HeaderMapMessage; end_of_stream?: boolean }
  response_headers?: { headers?: HeaderMapMessage; end_of_stream?: boolean }
  request_body?: { body?: Buffer; end_of_stream?: boolean }
  response_body?: { body?: Buffer; end_of_stream?: boolean }
  request_trailers?: { trailers?: HeaderMapMessage }
  response_trailers?: { trailers?: HeaderMapMessage }
  attributes?: Record<string, StructMessage>
  metadata_context?: { filter_metadata?: Record<string, StructMessage> }
  observability_mode?: boolean
  protocol_config?: {
    request_body_mode?: BodySendMode
    response_body_mode?: BodySendMode
    send_body_without_waiting_for_header_response?: boolean
  }
}

export interface HeaderValueOptionMessage {
  header: { key: string; raw_value: Buffer }
  append_action?: 'APPEND_IF_EXISTS_OR_ADD' | 'ADD_IF_ABSENT' | 'OVERWRITE_IF_EXISTS_OR_ADD' | 'OVERWRITE_IF_EXISTS'
}

export interface HeaderMutationMessage {
  set_headers?: HeaderValueOptionMessage[]
  remove_headers?: string[]
}

export interface CommonResponseMessage {
  status?: 'CONTINUE' | 'CONTINUE_AND_REPLACE'
  header_mutation?: HeaderMutationMessage
  body_mutation?: { body: Buffer } | { clear_body: true }
}

export interface ProcessingResponseMessage {
  request_headers?: { response?: CommonResponseMessage }
  response_headers?: { response?: CommonResponseMessage }
  request_body?: { response?: CommonResponseMessage }
  response_body?: { response?: CommonResponseMessage }
  request_trailers?: { header_mutation?: HeaderMutationMessage }
  response_trailers?: { header_mutation?: HeaderMutationMessage }
  immediate_response?: {
    status: { code: number }
    headers?: HeaderMutationMessage
    body?: Buffer
    details?: string
  }
  mode_override?: {
    request_body_mode?: BodySendMode
    response_body_mode?: BodySendMode
  }
  override_message_timeout?: { seconds: number; nanos: number }
}
