// The outbound side's reads (the send API's status lookups and the relay's queue metrics), run on
// the readers' connection (never the writer's) under the Reader's mutex. Thread-safe.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "store/sqlite/database.h"
#include "store/sqlite/reader.h"
#include "store/store.h"

namespace store::sqlite {

class OutboundReader {
 public:
  // Prepares its statements on `reader`'s connection; `reader` must outlive this object.
  bool open(Reader& reader, std::string& error);
  // The message and its recipient rows (envelope order) with their history, in one snapshot.
  std::optional<StoredOutbound> find(const std::string& id);
  // Recipient rows per state (every state listed, 0 included) and the oldest created_at of a
  // message with a queued or deferred recipient (0 when none), in one snapshot.
  Store::QueueStats stats();

 private:
  std::optional<StoredOutbound> find_locked(const std::string& id);
  bool read_recipients(const std::string& id, std::vector<OutboundRecipientRow>& rows);
  bool read_history(const std::string& id, const std::vector<int64_t>& positions,
                    std::vector<OutboundRecipientRow>& rows);
  Store::QueueStats stats_locked();

  Reader* reader_ = nullptr;
  Statement begin_, end_, find_message_, find_recipients_, find_history_, count_by_state_,
      oldest_pending_;
};

}  // namespace store::sqlite
