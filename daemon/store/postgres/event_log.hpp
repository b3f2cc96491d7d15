#pragma once
// The events table as the multi-instance fan-out (fanout/) reads it, and its NOTIFY: SQL stays
// in this backend. Each call runs on a connection the caller owns (the fan-out's LISTEN
// connection or its catch-up reader, never the store's pool: a LISTEN connection must not be
// handed to other work), as one autocommit statement. libpqxx's exceptions pass through: the
// caller tells a broken connection by it.

#include <cstdint>
#include <string>
#include <vector>

#include "store/store.hpp"

namespace pqxx {
class connection_base;
}

namespace sb::store::postgres {

// The seqs of the stored events in (after, up_to], in no particular order.
std::vector<std::int64_t> event_seqs_between(pqxx::connection_base& conn, std::int64_t after,
                                             std::int64_t up_to);

// The stored events among `seqs`, in seq order.
std::vector<Event> events_with_seqs(pqxx::connection_base& conn, const std::vector<std::int64_t>& seqs);

// At most `limit` events after `after_seq`, in seq order.
std::vector<Event> events_after(pqxx::connection_base& conn, std::int64_t after_seq, int limit);

// NOTIFY `channel` with `payload`, in a statement of its own (never inside a data transaction).
void notify(pqxx::connection_base& conn, const std::string& channel, const std::string& payload);

}  // namespace sb::store::postgres
