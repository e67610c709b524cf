// The normalized health configuration of a pool (and a member's override): monitors, the rule
// that combines them, the agent, slow start. Durations in ms; see docs/configuration.md and docs/health.md.

/** What a check's reply must contain: a substring, a regular expression, or exact bytes (hex). */
export interface Matcher {
  kind: 'string' | 'regex' | 'hex';
  value: string;
}

export interface MonitorCommon {
  /** time between checks while the state is steady (ms) */
  interval: number;
  /** time between checks while the member is changing state (between rise/fall) (ms) */
  fastInterval: number;
  /** a check that has not answered after this long failed (ms) */
  timeout: number;
  /** consecutive passes that make a down or checking member up */
  rise: number;
  /** consecutive failures that make an up member down */
  fall: number;
  /** port to check instead of the member's own (null = the member's port) */
  port: number | null;
}

export interface IcmpMonitor extends MonitorCommon {
  type: 'icmp';
}

export interface TcpMonitor extends MonitorCommon {
  type: 'tcp';
  /** bytes written once connected (null = connect only) */
  send: Buffer | null;
  /** what the reply must contain (null = connecting is enough) */
  expect: Matcher | null;
}

export interface UdpMonitor extends MonitorCommon {
  type: 'udp';
  send: Buffer;
  /** a reply that matches; 'any' = any reply; 'no-unreachable' = up unless ICMP port unreachable comes back */
  expect: Matcher | 'any' | 'no-unreachable';
}

export interface HttpMonitor extends MonitorCommon {
  type: 'http' | 'https';
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'OPTIONS';
  path: string;
  /** Host header (null = the member's host as configured, with its port) */
  host: string | null;
  headers: Record<string, string>;
  body: string | null;
  /** inclusive [low, high] status ranges; passing = inside one of them */
  expectStatus: [number, number][];
  expectBody: Matcher | null;
  /** most body bytes read to match expectBody */
  maxBody: number;
  tls: MonitorTls;
}

/** How an https or grpc monitor speaks TLS to a member. */
export interface MonitorTls {
  /** server name sent (null = the member's host when it is a name, none for an IP) */
  sni: string | null;
  verify: boolean;
  /** PEM file paths (null = none) */
  ca: string | null;
  cert: string | null;
  key: string | null;
}

export interface GrpcMonitor extends MonitorCommon {
  type: 'grpc';
  /** the service asked about in grpc.health.v1.Health/Check ('' = the server as a whole) */
  service: string;
  /** :authority sent (null = the member's host as configured, with its port) */
  authority: string | null;
  /** null = cleartext HTTP/2 (h2c by prior knowledge) */
  tls: MonitorTls | null;
}

export interface SipMonitor extends MonitorCommon {
  type: 'sip';
  transport: 'udp' | 'tcp';
  method: 'OPTIONS' | 'REGISTER';
  /** Request-URI (null = sip:<member ip>:<port>) */
  uri: string | null;
  /** user part of From (and To for REGISTER) */
  user: string;
  /** final responses that pass */
  expectStatus: number[];
}

export interface RadiusMonitor extends MonitorCommon {
  type: 'radius';
  secret: string;
  username: string;
  password: string;
  nasIdentifier: string;
  /** 'accept': only Access-Accept passes; 'any': Accept or Reject (a correctly signed answer) */
  expect: 'accept' | 'any';
}

export interface DnsMonitor extends MonitorCommon {
  type: 'dns';
  name: string;
  /** A, AAAA, MX, TXT, SOA, NS, CNAME, SRV, PTR */
  queryType: string;
  transport: 'udp' | 'tcp';
  /** NOERROR, NXDOMAIN, SERVFAIL, REFUSED, ... */
  expectRcode: string;
  /** a value one answer record must have (an address, a name, text), null = any */
  expectAnswer: string | null;
}

export interface ScriptMonitor extends MonitorCommon {
  type: 'script';
  /** the program (absolute or on PATH) */
  command: string;
  args: string[];
}

export type MonitorConfig =
  | IcmpMonitor
  | TcpMonitor
  | UdpMonitor
  | HttpMonitor
  | GrpcMonitor
  | SipMonitor
  | RadiusMonitor
  | DnsMonitor
  | ScriptMonitor;

export type MonitorType = MonitorConfig['type'];

/** How monitors' verdicts make a member's health: all pass, any passes, or at least n pass. */
export type HealthRule = { kind: 'all' } | { kind: 'any' } | { kind: 'at-least'; n: number };

export interface AgentConfig {
  port: number;
  interval: number;
  timeout: number;
  /** text written after connecting (HAProxy agent-send); null = nothing */
  send: string | null;
}

export interface HealthConfig {
  require: HealthRule;
  monitors: MonitorConfig[];
  agent: AgentConfig | null;
  /** members start 'checking' (no traffic until a first pass) or 'up' */
  initialState: 'checking' | 'up';
}
