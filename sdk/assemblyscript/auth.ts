// The types of the `authenticator` and `authorizer` worlds, and the host's
// `caller`, for AssemblyScript plugins; the world files (authenticator.ts,
// authorizer.ts) lift and lower them.

import { liftString } from "./abi";

@external("weir:plugin/host@0.1.0", "caller")
declare function hostCaller(ret: usize): void;

/// The client a call is made for.
export class Client {
  constructor(
    public principal: string,
    /// Its IP address.
    public address: string,
    public clientId: string | null,
    /// The listener it connected to (PLAINTEXT, SASL_SSL, …).
    public listener: string,
  ) {}
}

/// The client this call is made for (the producer in a partitioner or
/// produce interceptor, the consumer in a fetch interceptor); null in
/// retention and compaction policies.
export function caller(): Client | null {
  // option<client>: a flag, then the client at 4 (40 bytes in all).
  const ret = memory.data(40, 4);
  hostCaller(ret);
  if (load<u8>(ret) == 0) return null;
  return liftClientAt(ret + 4);
}

/// A client laid out in memory (principal, address, option<client-id>,
/// listener: 36 bytes).
export function liftClientAt(at: usize): Client {
  const clientId = load<u8>(at, 16) != 0 ? liftString(load<u32>(at, 20), load<u32>(at, 24)) : null;
  return new Client(
    liftString(load<u32>(at), load<u32>(at, 4)),
    liftString(load<u32>(at, 8), load<u32>(at, 12)),
    clientId,
    liftString(load<u32>(at, 28), load<u32>(at, 32)),
  );
}

/// Kafka's ACL operations, in the WIT's order.
export enum Operation {
  Read, Write, Create, Delete, Alter, Describe, ClusterAction,
  DescribeConfigs, AlterConfigs, IdempotentWrite, CreateTokens, DescribeTokens,
}

/// Kafka's resource types (the cluster is named `kafka-cluster`).
export enum ResourceType { Topic, Group, Cluster, TransactionalId, DelegationToken, User }

/// An authorizer's answer for one action.
export enum Decision { Allow, Deny, Defer }

export class Action {
  constructor(public operation: Operation, public resourceType: ResourceType, public name: string) {}
}

/// What a client presented through SASL.
export class Credentials {
  constructor(
    /// PLAIN or OAUTHBEARER.
    public mechanism: string,
    public authorizationId: string,
    /// PLAIN's user name; empty for OAUTHBEARER.
    public username: string,
    /// PLAIN's password, or OAUTHBEARER's token.
    public secret: Uint8Array,
  ) {}
}

/// An authenticator's answer.
export class Outcome {
  private constructor(
    public tag: u8, public text: string, public hasLifetime: bool, public lifetimeMs: i64,
  ) {}

  /// The credentials are good: the client is `principal` (User:alice).
  static accept(principal: string): Outcome {
    return new Outcome(0, principal, false, 0);
  }

  /// Good for `lifetimeMs` milliseconds (then re-authentication, KIP-368).
  static acceptFor(principal: string, lifetimeMs: i64): Outcome {
    return new Outcome(0, principal, true, lifetimeMs);
  }

  /// Refused, with this message.
  static refuse(reason: string): Outcome {
    return new Outcome(1, reason, false, 0);
  }

  /// The broker checks the credentials as it would without the plugin.
  static defer(): Outcome {
    return new Outcome(2, "", false, 0);
  }
}
