// Where a source's records go, as stored in sources.destination: '{}' (or {"type":"table"}) is the
// deliveries table only; a webhook destination also calls the source's endpoint once per record.

export interface WebhookDestination {
  type: 'webhook';
  url: string;
  /** `whsec_` and the base64 of the signing key (Standard Webhooks). Never shown by the API. */
  secret: string;
  /** When an admin set it (absent on one set before this was kept): a 410 disables only the destination its call was made to. */
  setAt?: string;
  /** Set when the endpoint answered 410 Gone: the source is held until an admin sets a destination again. */
  disabledAt?: string;
  disabledReason?: string;
}

export type Destination = { type: 'table' } | WebhookDestination;

/** The stored JSON as a destination; anything but a webhook is the table. */
export function storedDestination(json: unknown): Destination {
  const d = json as Partial<WebhookDestination> | null;
  if (d && d.type === 'webhook' && typeof d.url === 'string' && typeof d.secret === 'string') {
    return {
      type: 'webhook',
      url: d.url,
      secret: d.secret,
      ...(typeof d.setAt === 'string' ? { setAt: d.setAt } : {}),
      ...(d.disabledAt ? { disabledAt: d.disabledAt, disabledReason: d.disabledReason ?? '' } : {}),
    };
  }
  return { type: 'table' };
}
