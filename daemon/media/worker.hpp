#pragma once
// The media worker (issue 16): after a message with media is stored, its file is fetched here,
// asynchronously — never in the webhook request, never inside the apply transaction. The
// channel's plugin builds the fetch chain (ABI 1.3 fetch_media), the HTTP client streams the
// bytes into the blob store, and the message's media goes pending → ready | failed with a
// message_updated frame. Pending media is a store row, so a restart resumes it.

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "config/config.hpp"
#include "http_client/client.hpp"
#include "media/blob_store.hpp"
#include "notifier/notifier.hpp"
#include "plugin_host/channel.hpp"
#include "store/store.hpp"

namespace sb::media {

// The `content` object a message shows for its media: the plugin's content with `media`
// replaced by the host's object {id, state, mime_type, size, file_name, sha256, error,
// error_message?, url (ready only)} plus what the platform said (platform_id, platform_url,
// mime, width, height, duration_s).
std::string content_with_media(std::string_view source_content_json, const store::MediaRecord& media);

// An agent's content naming an upload (`upload_id`), as stored and sent: `media` is the host's
// object for the upload (ready, with its url) and `upload` tells the plugin what to send:
// {"id","mime_type","size","file_name","sha256","placeholder"}. The plugin puts `placeholder`
// where the file's bytes go in its request body (a multipart part); the host puts them there.
std::string content_with_upload(std::string_view content_json, const store::MediaRecord& upload);
// The placeholder of an upload's bytes in a plugin's request body.
std::string upload_placeholder(const store::MediaRecord& upload);

// True when `content_json` is a content object whose `media` a plugin could fetch.
bool has_fetchable_media(std::string_view content_json);

// One pass of retention (media.retention_days): files created before `before_ms` are deleted
// with their rows, each message keeps its media object with state "deleted" (no url; type,
// size, name and digest stay), announced through `publish` as message_updated, and the bytes
// that no remaining file names leave `blobs`. Returns how many files went.
std::size_t expire_media(store::Store& store, BlobStore& blobs, std::int64_t before_ms,
                         const std::function<void(const store::Event&)>& publish);

class Worker {
public:
    // Downloads are spooled under `spool_dir` (this process's own; cleared here) and go to
    // `blobs` from there on the worker's thread: the HTTP client writes on an I/O thread, which
    // must not wait on a blob store that may block (PostgreSQL).
    Worker(store::Store& store, const plugin_host::LiveChannels& channels, notifier::Notifier& notifier,
           http_client::Client& client, BlobStore& blobs, config::MediaConfig config,
           std::filesystem::path spool_dir);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    void start();
    // Stops claiming; downloads in flight are abandoned (their rows come back after the lease).
    void stop();
    // A stored batch's events (called by the inbound processor after it published them): every
    // new inbound message with media gets its pending row here, then its fetch.
    void on_stored(const std::string& channel_id, const store::ApplyResult& result);

    struct Job;

private:
    void run();
    void post(std::function<void()> task);
    void claim_due();
    void begin(store::MediaRecord media);
    void step(const std::shared_ptr<Job>& job, const http_client::Response* previous);
    void download(const std::shared_ptr<Job>& job, http_client::Request request);
    void finish_ready(const std::shared_ptr<Job>& job);
    void finish_failed(const std::shared_ptr<Job>& job, std::string reason, std::string message);
    void finish_retry(const std::shared_ptr<Job>& job, std::string message);
    void settle(const std::shared_ptr<Job>& job);
    void add_pending(const std::string& channel_id, const store::Event& event);
    void apply_retention();

    store::Store& store_;
    const plugin_host::LiveChannels& channels_;
    notifier::Notifier& notifier_;
    http_client::Client& client_;
    BlobStore& blobs_;
    config::MediaConfig config_;
    std::filesystem::path spool_dir_;
    std::atomic<int> in_flight_{0};
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::function<void()>> tasks_;
    bool stopping_ = false;
    std::atomic<bool> running_{false};
    std::thread thread_;
};

}  // namespace sb::media
