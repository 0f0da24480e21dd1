/**
 * The topic router: services that answer requests over MQTT (Fleet Provisioning, rotation
 * acknowledgements, any later one) register a route, `router.handle(matcher, handler)`. For every
 * PUBLISH that `iot:Publish` allowed, the broker asks the router once; the matcher of the first route
 * that recognises the topic parses it, and its handler later receives that parsed topic, so no one
 * parses the topic again. A matched PUBLISH is a request to the server: it is never routed to
 * subscribers, and the reply goes to the requesting connection only (see handlers/deliver.ts).
 */
import type { Principal } from './authority.js';
import { BrokerError } from './errors.js';

/**
 * Recognises and parses the request topics of one service.
 * @typeParam T the parsed topic the route's handler receives
 */
export interface TopicMatcher<T> {
  /** What matched topics are, for log lines and refusals, e.g. `Fleet Provisioning request`. */
  readonly description: string;
  /** Whether a client's will message may be a request on a matched topic (it then runs like a PUBLISH of that client). */
  readonly allowsWill: boolean;
  /**
   * The parsed topic, or null when `topic` is none of this service's request topics. Called for
   * every PUBLISH that reaches the router, so it should reject other topics cheaply (a prefix test).
   */
  match(topic: string): T | null;
}

/** The facts of a request, as the broker knows them when it dispatches it. */
export interface RequestFacts {
  /** The request topic as published, e.g. `$aws/certificates/create/json` (for logs). */
  topic: string;
  /** The request payload. */
  payload: Buffer;
  /** The principal of the requesting connection. */
  principal: Principal;
  /** Client id of the requesting connection. */
  clientId: string;
}

/** What a route's handler receives: the request and the topic its matcher parsed. */
export interface RoutedRequest<T> extends RequestFacts {
  /** The topic, as parsed once by the route's {@link TopicMatcher}. */
  parsed: T;
}

/** The response to a request: delivered to the requesting connection only. */
export interface RouteReply {
  /** The reply topic, e.g. `.../accepted` or `.../rejected`. */
  topic: string;
  /** The encoded response. */
  payload: Buffer;
}

/**
 * Handles the requests of one route. Returns the reply to send to the requester only, or null for
 * no reply. The broker runs at most a few requests of one connection at a time and delivers their
 * replies in request order; throttling replies are the handler's job.
 */
export type RouteHandler<T> = (request: RoutedRequest<T>) => Promise<RouteReply | null>;

/** A topic a route recognised: its matcher's facts, and the handler bound to the parsed topic. */
export interface RouteMatch {
  /** The matcher's {@link TopicMatcher.description}. */
  readonly description: string;
  /** The matcher's {@link TopicMatcher.allowsWill}. */
  readonly allowsWill: boolean;
  /** Runs the route's handler with the parsed topic. */
  run(facts: RequestFacts): Promise<RouteReply | null>;
}

/** One registered route, with its matcher's type erased behind the closure. */
type Route = {
  readonly matcher: TopicMatcher<unknown>;
  readonly tryMatch: (topic: string) => RouteMatch | null;
};

/** The routes of request topics, tried in registration order. */
export class TopicRouter {
  readonly #routes: Route[] = [];

  /**
   * Registers a route: requests whose topic `matcher` recognises go to `handler`.
   * @throws {BrokerError} `InvalidOption` when the matcher or handler is malformed, or the matcher is already registered
   */
  handle<T>(matcher: TopicMatcher<T>, handler: RouteHandler<T>): this {
    if (typeof matcher !== 'object' || matcher === null || typeof matcher.match !== 'function') {
      throw new BrokerError('InvalidOption', 'a route needs a matcher with a match(topic) function');
    }
    if (typeof handler !== 'function')
      throw new BrokerError('InvalidOption', `the route of ${matcher.description} requests needs a handler function`);
    if (this.#routes.some((route) => route.matcher === matcher)) {
      throw new BrokerError('InvalidOption', `a route for ${matcher.description} requests is already registered`);
    }
    const tryMatch = (topic: string): RouteMatch | null => {
      const parsed = matcher.match(topic);
      if (parsed === null) return null;
      return { description: matcher.description, allowsWill: matcher.allowsWill, run: (facts) => handler({ ...facts, parsed }) };
    };
    this.#routes.push({ matcher, tryMatch });
    return this;
  }

  /** The first route whose matcher recognises `topic` (the topic is parsed there, once), or null. */
  match(topic: string): RouteMatch | null {
    for (const route of this.#routes) {
      const matched = route.tryMatch(topic);
      if (matched !== null) return matched;
    }
    return null;
  }

  /** Number of registered routes. */
  get size(): number {
    return this.#routes.length;
  }
}
