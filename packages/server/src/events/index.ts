/**
 * Registry events: changes logged with their transaction and published on AWS's `$aws/events/...`
 * topics after commit (when enabled with UpdateEventConfigurations), and the event-log routes.
 */
export { thingEventPayload, thingEventTopic, type ThingEventOperation, type ThingEventPayload } from './aws-events.js';
export { observeRegistry, REGISTRY_EVENT_TYPE, type ObserveRegistryOptions, type RegistryChange } from './observed-registry.js';
export {
  cachedEventConfigurations,
  EVENT_CONFIGURATIONS_SETTING,
  EVENT_TYPES,
  readEventConfigurations,
  updateEventConfigurations,
  type EventConfigurations,
  type EventType,
} from './event-configurations.js';
export { createEventPublisher, type EventPublisher, type EventPublisherOptions } from './publisher.js';
export { eventLogRoutes, EVENT_LOG_PATH, MAX_EVENT_PAGE } from '../api/extensions/events.js';
