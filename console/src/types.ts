// The wire shapes the console reads (docs/api.md, docs/openapi.yaml and the session contract).
// Every field a newer daemon adds is optional here: an older daemon omits it and the console
// falls back to a default.

export interface AgentRef {
  id: string;
  name: string;
}

// A conversation's contact: the identity on its channel, and the person (contact) it belongs to.
export interface Contact {
  id?: string;
  display_name?: string;
  platform_id?: string;
  name?: string | null;
  username?: string | null;
  phone?: string | null;
}

export interface Identity {
  id: string;
  channel_id: string;
  platform_id: string;
  name?: string | null;
  username?: string | null;
  phone?: string | null;
  created_at?: string;
}

// A contact (GET /api/v1/contacts/{id}): a person, with their identities on every channel.
export interface Person {
  id: string;
  name: string | null;
  display_name: string;
  email: string | null;
  phone: string | null;
  company: string | null;
  notes: string | null;
  attributes: Record<string, unknown>;
  merged_into?: string | null;
  created_at?: string;
  updated_at?: string;
  identities: Identity[];
  merged?: { id: string; display_name: string }[];
  conversation_ids?: string[];
}

export type AttributeType = 'string' | 'number' | 'boolean' | 'date';

export interface AttributeDef {
  key: string;
  type: AttributeType;
  label?: string;
  created_at?: string;
}

export interface MergeSuggestion {
  contact_ids: string[];
  reason: string;
  phone?: string;
}

export interface LastMessage {
  id: string;
  direction: 'in' | 'out';
  kind?: string;
  preview: string;
  created_at: string;
  sender?: AgentRef | null;
}

export interface Conversation {
  id: string;
  channel_id: string;
  platform_id?: string;
  kind?: string;
  title?: string | null;
  contact?: Contact | null;
  status: string;
  assignee_id?: string | null;
  assignee?: AgentRef | null;
  created_at?: string;
  last_activity_at: string;
  snoozed_until?: string | null;
  /** When the customer blocked the channel; replies are refused (409 recipient_blocked) meanwhile. */
  blocked_at?: string | null;
  priority?: string;
  labels?: string[];
  last_message?: LastMessage | null;
  unread_count?: number;
  last_read_message_id?: string | null;
}

export interface Media {
  id?: string;
  state?: 'pending' | 'ready' | 'failed';
  mime_type?: string;
  mime?: string;
  size?: number | null;
  file_name?: string | null;
  error?: string | null;
  url?: string;
  duration_s?: number;
}

export interface Content {
  type: string;
  text?: string;
  caption?: string;
  media?: Media;
  latitude?: number;
  longitude?: number;
  name?: string;
  address?: string;
  phone?: string;
  emoji?: string;
  title?: string;
  platform_type?: string;
  [key: string]: unknown;
}

export interface Message {
  id: string;
  conversation_id: string;
  channel_id?: string;
  platform_id?: string | null;
  direction: 'in' | 'out';
  kind?: 'message' | 'note' | 'system';
  sender?: AgentRef | null;
  content: Content;
  reply_to?: string | null;
  status: string;
  error_code?: string | null;
  error_message?: string | null;
  created_at: string;
  platform_timestamp?: string | null; // when the platform says it was written
  edited_at?: string | null;
  deleted_at?: string | null;
  reactions?: { emoji: string; sender?: AgentRef }[];
  mentions?: string[];
}

export interface Agent {
  id: string;
  name: string;
  role: string;
  created_at?: string;
  availability?: string;
  presence?: string;
  connected?: boolean;
  open_conversations?: number;
}

export interface Me {
  id: string;
  name: string;
  role: string;
  availability?: string;
  presence?: string;
}

export interface Page<T> {
  items: T[];
  next_cursor?: string | null;
}

export interface Frame {
  type: string;
  seq?: number;
  at?: string;
  data: any;
}

export type Tab = 'mine' | 'unassigned' | 'all';
