/**
 * The fleetprov MQTT broker (aedes behind mutual TLS, AWS IoT Core semantics).
 */
export {
  Broker,
  startBroker,
  type BrokerEvents,
  type BrokerOptions,
  type BrokerScaleOut,
  type ConnectedEvent,
  type ConnectionRefusedEvent,
  type DeniedEvent,
  type DenialStage,
  type DisconnectedEvent,
  type ServerPublishOptions,
} from './broker.js';
export type { AuthenticationResult, BrokerAuthority, ConnectAttempt, Principal, ReauthorizeScope } from './authority.js';
export {
  TopicRouter,
  type RequestFacts,
  type RouteHandler,
  type RouteMatch,
  type RouteReply,
  type RoutedRequest,
  type TopicMatcher,
} from './router.js';
export { BrokerBus, type MessageBus } from './message-bus.js';
export { BrokerError, ConnackCode, type BrokerErrorCode, type ConnackCodeValue } from './errors.js';
export { DEFAULT_BROKER_LIMITS, resolveLimits, type BrokerLimits } from './limits.js';
export { ACCEPTED_ALPN_PROTOCOLS, type BrokerTlsMaterial } from './tls-server.js';
export {
  checkSubscribeReserved,
  checkTopicFilter,
  classifyPublishTopic,
  isRoutableTopic,
  topicMatchesFilter,
  type PublishTopicClass,
} from './topic-rules.js';
