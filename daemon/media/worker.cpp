#include "media/worker.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <system_error>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "util/random.hpp"
#include "util/thread_name.hpp"
#include "util/time.hpp"

namespace sb::media {
namespace {

namespace fs = std::filesystem;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// A download chain longer than this is a plugin going round in circles.
constexpr int kMaxSteps = 8;
// A claimed row is this worker's for so long; one whose worker died comes back after it.
constexpr std::int64_t kLeaseMs = 15 * 60'000;
// How often due rows are looked for when nothing wakes the worker.
constexpr std::int64_t kPollMs = 500;
// How often retention looks for old files (and once at start): a file is kept at most this
// much longer than media.retention_days.
constexpr std::int64_t kRetentionEveryMs = 3'600'000;
// Files deleted per transaction: a backlog (retention just turned on) goes in short ones.
constexpr int kRetentionBatch = 500;

bool is_media_type(std::string_view type) {
    return type == "image" || type == "audio" || type == "voice" || type == "video" || type == "document" ||
           type == "sticker";
}

// 1 s, 2 s, 4 s … at most a minute.
std::int64_t backoff_ms(int attempts) {
    std::int64_t delay = 1000;
    for (int i = 1; i < attempts && delay < 60'000; ++i) delay *= 2;
    return std::min<std::int64_t>(delay, 60'000);
}

bool iequals(std::string_view a, std::string_view b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
        return (x >= 'A' && x <= 'Z' ? x - 'A' + 'a' : x) == (y >= 'A' && y <= 'Z' ? y - 'A' + 'a' : y);
    });
}

void write_string(Writer& w, const char* key, std::string_view value) {
    w.Key(key);
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void write_nullable(Writer& w, const char* key, std::string_view value) {
    w.Key(key);
    if (value.empty())
        w.Null();
    else
        w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

}  // namespace

bool has_fetchable_media(std::string_view content_json) {
    rapidjson::Document doc;
    doc.Parse(content_json.data(), content_json.size());
    if (doc.HasParseError() || !doc.IsObject()) return false;
    auto type = doc.FindMember("type");
    auto media = doc.FindMember("media");
    return type != doc.MemberEnd() && type->value.IsString() && is_media_type(type->value.GetString()) &&
           media != doc.MemberEnd() && media->value.IsObject();
}

std::string content_with_media(std::string_view source_content_json, const store::MediaRecord& m) {
    rapidjson::Document doc;
    doc.Parse(source_content_json.data(), source_content_json.size());
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    const rapidjson::Value* platform = nullptr;
    if (!doc.HasParseError() && doc.IsObject()) {
        for (auto& member : doc.GetObject()) {
            if (std::string_view(member.name.GetString()) == "media") {
                if (member.value.IsObject()) platform = &member.value;
                continue;
            }
            member.name.Accept(w);
            member.value.Accept(w);
        }
    }
    w.Key("media");
    w.StartObject();
    write_string(w, "id", std::to_string(m.id));
    write_string(w, "state", m.state);
    write_string(w, "mime_type", m.mime_type.empty() ? "application/octet-stream" : m.mime_type);
    w.Key("size");
    if (m.size >= 0)
        w.Int64(m.size);
    else
        w.Null();
    write_nullable(w, "file_name", m.file_name);
    write_nullable(w, "sha256", m.sha256);
    write_nullable(w, "error", m.error);
    if (m.state == "failed" && !m.error_message.empty()) write_string(w, "error_message", m.error_message);
    if (m.state == "ready") write_string(w, "url", "/api/v1/media/" + std::to_string(m.id));
    if (platform != nullptr) {
        // What the platform said stays: its reference under platform_id / platform_url.
        for (auto& member : platform->GetObject()) {
            std::string_view name = member.name.GetString();
            if (name == "id") {
                w.Key("platform_id");
            } else if (name == "url") {
                w.Key("platform_url");
            } else if (name == "mime" || name == "width" || name == "height" || name == "duration_s") {
                member.name.Accept(w);
            } else {
                continue;  // size, file_name, sha256: the host's fields above
            }
            member.value.Accept(w);
        }
    }
    w.EndObject();
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

std::string upload_placeholder(const store::MediaRecord& upload) {
    return "{{switchboard-upload:" + upload.sha256 + "}}";
}

std::string content_with_upload(std::string_view content_json, const store::MediaRecord& upload) {
    const std::string with_media = content_with_media(content_json, upload);
    rapidjson::Document doc;
    doc.Parse(with_media.data(), with_media.size());
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    for (auto& member : doc.GetObject()) {
        if (std::string_view(member.name.GetString()) == "upload") continue;
        member.name.Accept(w);
        member.value.Accept(w);
    }
    w.Key("upload");
    w.StartObject();
    write_string(w, "id", std::to_string(upload.id));
    write_string(w, "mime_type", upload.mime_type);
    w.Key("size");
    w.Int64(upload.size);
    write_string(w, "file_name", upload.file_name.empty() ? "file" : upload.file_name);
    write_string(w, "sha256", upload.sha256);
    write_string(w, "placeholder", upload_placeholder(upload));
    w.EndObject();
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

std::size_t expire_media(store::Store& store, BlobStore& blobs, std::int64_t before_ms,
                         const std::function<void(const store::Event&)>& publish) {
    auto deleted_content = [](const store::MediaRecord& file) {
        store::MediaRecord gone = file;
        gone.state = "deleted";
        gone.error.clear();
        gone.error_message.clear();
        return content_with_media(file.source_json, gone);
    };
    std::size_t total = 0;
    for (;;) {
        auto round = store.expire_media(before_ms, kRetentionBatch, deleted_content, util::now_ms());
        for (const auto& event : round.events) publish(event);
        // The rows are gone before the bytes: a crash in between leaves bytes nobody names,
        // never a file whose bytes are missing. Between that transaction and the removal, an
        // upload or a download of the same file may have been deduplicated against these bytes
        // and stored its row: asked again under the digest's hold (which such a writer keeps from
        // its commit to its row), no row may name them.
        for (const auto& sha256 : round.unreferenced) {
            try {
                auto hold = blobs.hold(sha256);
                if (store.media_names(sha256)) continue;
                blobs.remove(sha256);
            } catch (const std::exception& e) {
                spdlog::error("media retention cannot delete bytes sha256={} error=\"{}\"", sha256, e.what());
            }
        }
        total += round.deleted.size();
        if (round.deleted.size() < static_cast<std::size_t>(kRetentionBatch)) return total;
    }
}

struct Worker::Job {
    store::MediaRecord media;
    std::shared_ptr<plugin_host::Channel> channel;
    std::string state;  // the plugin's, for its next step
    int steps = 0;
    plugin_host::MediaStepOutcome download;  // the DOWNLOAD step that produced `staged`
    fs::path staged;
    std::unique_ptr<BlobHold> hold;  // from the blob's commit until its row is stored
};

Worker::Worker(store::Store& store, const plugin_host::LiveChannels& channels, notifier::Notifier& notifier,
               http_client::Client& client, BlobStore& blobs, config::MediaConfig config,
               std::filesystem::path spool_dir)
    : store_(store),
      channels_(channels),
      notifier_(notifier),
      client_(client),
      blobs_(blobs),
      config_(config),
      spool_dir_(std::move(spool_dir)) {
    // What a previous process left half-downloaded here is garbage: its rows are fetched again.
    std::error_code ec;
    fs::remove_all(spool_dir_, ec);
    fs::create_directories(spool_dir_, ec);
    if (ec) throw std::runtime_error(fmt::format("media.dir {}: {}", spool_dir_.string(), ec.message()));
}

Worker::~Worker() { stop(); }

void Worker::start() {
    running_ = true;
    thread_ = std::thread([this] {
        util::name_this_thread("sb-media");
        run();
    });
}

void Worker::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    running_ = false;
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
}

void Worker::post(std::function<void()> task) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        tasks_.push_back(std::move(task));
    }
    wake_.notify_one();
}

void Worker::run() {
    try {
        store_.recover_media(util::now_ms());
    } catch (const std::exception& e) {
        spdlog::error("media recovery failed error=\"{}\"", e.what());
    }
    std::int64_t next_claim = 0;
    std::int64_t next_retention = 0;
    for (;;) {
        std::deque<std::function<void()>> tasks;
        {
            std::unique_lock lock(mutex_);
            wake_.wait_for(lock, std::chrono::milliseconds(kPollMs),
                           [&] { return stopping_ || !tasks_.empty(); });
            if (stopping_) return;
            tasks.swap(tasks_);
        }
        for (auto& task : tasks) {
            try {
                task();
            } catch (const std::exception& e) {
                spdlog::error("media task failed error=\"{}\"", e.what());
            }
        }
        if (!tasks.empty() || util::now_ms() >= next_claim) {
            try {
                claim_due();
            } catch (const std::exception& e) {
                spdlog::error("media claim failed error=\"{}\"", e.what());
            }
            next_claim = util::now_ms() + kPollMs;
        }
        if (config_.retention_days > 0 && util::now_ms() >= next_retention) {
            apply_retention();
            next_retention = util::now_ms() + kRetentionEveryMs;
        }
    }
}

void Worker::apply_retention() {
    const std::int64_t before = util::now_ms() - std::int64_t{config_.retention_days} * 86'400'000;
    try {
        const auto deleted = expire_media(store_, blobs_, before,
                                          [this](const store::Event& event) { notifier_.publish(event); });
        if (deleted > 0)
            spdlog::info("media retention deleted files={} days={}", deleted, config_.retention_days);
    } catch (const std::exception& e) {
        spdlog::error("media retention failed error=\"{}\"", e.what());
    }
}

void Worker::on_stored(const std::string& channel_id, const store::ApplyResult& result) {
    for (const auto& event : result.events) {
        if (event.type != "new_message") continue;
        post([this, channel_id, event] { add_pending(channel_id, event); });
    }
}

void Worker::add_pending(const std::string& channel_id, const store::Event& event) {
    auto channel = channels_.find(channel_id);
    if (!channel || !channel->fetches_media()) return;
    rapidjson::Document doc;
    doc.Parse(event.data_json.data(), event.data_json.size());
    if (doc.HasParseError() || !doc.IsObject()) return;
    auto message = doc.FindMember("message");
    if (message == doc.MemberEnd() || !message->value.IsObject()) return;
    const auto& m = message->value;
    auto id = m.FindMember("id");
    auto direction = m.FindMember("direction");
    auto content = m.FindMember("content");
    if (id == m.MemberEnd() || !id->value.IsString() || direction == m.MemberEnd() ||
        !direction->value.IsString() || std::string_view(direction->value.GetString()) != "in" ||
        content == m.MemberEnd() || !content->value.IsObject())
        return;
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    content->value.Accept(w);
    std::string content_json(buffer.GetString(), buffer.GetSize());
    if (!has_fetchable_media(content_json)) return;
    std::int64_t message_id = 0;
    std::string_view id_text = id->value.GetString();
    std::from_chars(id_text.data(), id_text.data() + id_text.size(), message_id);
    store::MediaRecord media;
    media.origin = "inbound";
    media.message_id = message_id;
    media.conversation_id = event.conversation_id;
    media.channel_id = channel_id;
    media.state = "pending";
    media.source_json = content_json;
    const auto& platform = content->value["media"];
    if (auto mime = platform.FindMember("mime"); mime != platform.MemberEnd() && mime->value.IsString())
        media.mime_type = mime->value.GetString();
    if (auto size = platform.FindMember("size"); size != platform.MemberEnd() && size->value.IsInt64())
        media.size = size->value.GetInt64();
    if (auto name = platform.FindMember("file_name"); name != platform.MemberEnd() && name->value.IsString())
        media.file_name = name->value.GetString();
    media.created_ms = util::now_ms();
    media.next_attempt_ms = media.created_ms;
    std::optional<store::Event> updated;
    auto added = store_.add_media(
        media, [&](const store::MediaRecord& stored) { return content_with_media(content_json, stored); },
        &updated);
    // The new_message frame showed the platform's reference; this one names the file, pending.
    if (updated) notifier_.publish(*updated);
    if (added) spdlog::debug("media pending id={} message={} channel={}", added->id, message_id, channel_id);
}

void Worker::claim_due() {
    const int free = config_.max_in_flight - in_flight_.load();
    if (free <= 0) return;
    for (auto& media : store_.claim_media(util::now_ms(), kLeaseMs, free)) begin(std::move(media));
}

void Worker::begin(store::MediaRecord media) {
    auto job = std::make_shared<Job>();
    job->media = std::move(media);
    job->channel = channels_.find(job->media.channel_id);
    in_flight_.fetch_add(1);
    if (!job->channel || !job->channel->ready())
        return finish_retry(job, "channel '" + job->media.channel_id + "' is not ready");
    if (!job->channel->fetches_media())
        return finish_failed(job, "unsupported", "the channel's plugin does not fetch media");
    step(job, nullptr);
}

// One plugin step, then the request it asked for. Runs on the worker thread (the first step)
// or on an I/O thread (the answer to the previous request): the plugin call is quick.
void Worker::step(const std::shared_ptr<Job>& job, const http_client::Response* previous) {
    if (!running_) return finish_retry(job, "stopping");
    if (++job->steps > kMaxSteps)
        return finish_failed(job, "plugin_error", "the plugin's fetch chain did not end");
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    w.Key("v");
    w.Int(1);
    w.Key("content");
    w.RawValue(job->media.source_json.data(), job->media.source_json.size(), rapidjson::kObjectType);
    if (!job->state.empty()) write_string(w, "state", job->state);
    w.EndObject();
    auto outcome =
        job->channel->fetch_media(std::string_view(buffer.GetString(), buffer.GetSize()), previous);
    if (outcome.status != SB_OK) return finish_failed(job, "plugin_error", outcome.error);
    switch (outcome.action) {
        case SB_MEDIA_REQUEST: {
            job->state = outcome.state;
            auto request = std::move(*outcome.request);
            if (request.timeout_ms == 0) request.timeout_ms = 30'000;
            client_.send(std::move(request), [this, job](http_client::Response response) {
                if (!response.transport_error.empty())
                    return finish_retry(job, "network: " + response.transport_error);
                if (response.status >= 500 || response.status == 429)
                    return finish_retry(job, "the platform answered HTTP " + std::to_string(response.status));
                step(job, &response);
            });
            return;
        }
        case SB_MEDIA_DOWNLOAD: {
            job->state = outcome.state;
            auto request = std::move(*outcome.request);
            job->download = std::move(outcome);
            return download(job, std::move(request));
        }
        case SB_MEDIA_FAILED:
            return finish_failed(job, outcome.reason.empty() ? "failed" : outcome.reason, outcome.message);
        case SB_MEDIA_RETRY:
            return finish_retry(job, outcome.message.empty() ? outcome.reason : outcome.message);
        case SB_MEDIA_SKIP:
            return finish_failed(job, "not_stored", "the platform's terms allow keeping the link only");
    }
}

void Worker::download(const std::shared_ptr<Job>& job, http_client::Request request) {
    const auto& d = job->download;
    std::int64_t cap = config_.max_file_bytes;
    if (d.max_bytes > 0) cap = std::min(cap, d.max_bytes);
    if (d.expected_size > cap)
        return finish_failed(
            job, "too_large",
            fmt::format("the file is {} bytes; at most {} bytes are fetched", d.expected_size, cap));
    if (request.timeout_ms == 0) request.timeout_ms = 30'000;
    job->staged = spool_dir_ / (util::random_hex(16) + ".part");
    client_.download(
        std::move(request), job->staged.string(), static_cast<std::uint64_t>(cap),
        [this, job, cap](http_client::DownloadResult result) {
            if (!result.transport_error.empty())
                return finish_retry(job, "network: " + result.transport_error);
            if (result.too_large)
                return finish_failed(job, "too_large", fmt::format("the file is over {} bytes", cap));
            if (result.status >= 500 || result.status == 429)
                return finish_retry(job, "the file server answered HTTP " + std::to_string(result.status));
            if (result.status < 200 || result.status > 299) {
                std::error_code ec;
                fs::remove(job->staged, ec);
                http_client::Response response;
                response.status = result.status;
                response.headers = std::move(result.headers);
                response.body = std::move(result.body);
                return step(job, &response);
            }
            if (job->download.mime_type.empty()) {
                for (const auto& [name, value] : result.headers)
                    if (iequals(name, "Content-Type")) job->download.mime_type = value;
            }
            post([this, job] { finish_ready(job); });
        });
}

// On the worker thread: the spooled download into the blob store, piece by piece, its digest
// taken on the way.
void Worker::finish_ready(const std::shared_ptr<Job>& job) {
    ContentDigest digest;
    std::string sha256;
    try {
        std::ifstream in(job->staged, std::ios::binary);
        if (!in) return finish_retry(job, "cannot read the downloaded file");
        auto writer = blobs_.create();
        std::string piece(kBlobReadChunk, '\0');
        while (in) {
            in.read(piece.data(), static_cast<std::streamsize>(piece.size()));
            const auto n = static_cast<std::size_t>(in.gcount());
            if (n == 0) break;
            const std::string_view bytes(piece.data(), n);
            digest.update(bytes);
            writer->write(bytes);
        }
        if (in.bad()) return finish_retry(job, "cannot read the downloaded file");
        sha256 = digest.finish();
        const auto& d = job->download;
        if (!d.sha256.empty() && d.sha256 != sha256)
            return finish_failed(job, "sha256_mismatch",
                                 "the bytes do not match the platform's SHA-256 (" + d.sha256 + ")");
        // Held from the commit (which may keep bytes stored before) until settle() has stored
        // the row naming them: retention does not delete them in between.
        job->hold = blobs_.hold(sha256);
        writer->commit(sha256);  // a writer not committed (any return above) is aborted
    } catch (const std::exception& e) {
        job->hold.reset();
        return finish_retry(job, fmt::format("cannot store the file: {}", e.what()));
    }
    std::error_code ec;
    fs::remove(job->staged, ec);
    const auto& d = job->download;
    auto& m = job->media;
    m.state = "ready";
    m.error.clear();
    m.error_message.clear();
    m.sha256 = sha256;
    m.size = static_cast<std::int64_t>(digest.size());
    m.mime_type = checked_mime_type(d.mime_type.empty() ? m.mime_type : d.mime_type, digest.head());
    if (!d.file_name.empty()) m.file_name = d.file_name;
    spdlog::info("media ready id={} channel={} bytes={} mime={}", m.id, m.channel_id, m.size, m.mime_type);
    settle(job);
}

void Worker::finish_failed(const std::shared_ptr<Job>& job, std::string reason, std::string message) {
    post([this, job, reason = std::move(reason), message = std::move(message)] {
        if (!job->staged.empty()) {
            std::error_code ec;
            fs::remove(job->staged, ec);
        }
        auto& m = job->media;
        m.state = "failed";
        m.error = reason;
        m.error_message = message;
        spdlog::warn("media failed id={} channel={} reason={} message=\"{}\"", m.id, m.channel_id, reason,
                     message);
        settle(job);
    });
}

void Worker::finish_retry(const std::shared_ptr<Job>& job, std::string message) {
    post([this, job, message = std::move(message)] {
        if (!job->staged.empty()) {
            std::error_code ec;
            fs::remove(job->staged, ec);
        }
        auto& m = job->media;
        const std::int64_t now = util::now_ms();
        const std::int64_t next = now + backoff_ms(m.attempts);
        if (m.attempts >= config_.max_attempts || next > m.created_ms + config_.retry_window_ms) {
            m.state = "failed";
            m.error = "unavailable";
            m.error_message = message;
            spdlog::warn("media failed id={} channel={} after attempts={} last=\"{}\"", m.id, m.channel_id,
                         m.attempts, message);
            return settle(job);
        }
        spdlog::info("media retry id={} channel={} attempts={} in_ms={} reason=\"{}\"", m.id, m.channel_id,
                     m.attempts, next - now, message);
        try {
            store_.retry_media(m.id, next, message);
        } catch (const std::exception& e) {
            spdlog::error("media retry not recorded id={} error=\"{}\"", m.id, e.what());
        }
        in_flight_.fetch_sub(1);
    });
}

// On the worker thread: the final state, the message's content and its frame.
void Worker::settle(const std::shared_ptr<Job>& job) {
    try {
        auto event = store_.settle_media(job->media, content_with_media(job->media.source_json, job->media),
                                         util::now_ms());
        if (event) notifier_.publish(*event);
    } catch (const std::exception& e) {
        // Still pending in the store: the row comes back after its lease.
        spdlog::error("media state not stored id={} error=\"{}\"", job->media.id, e.what());
    }
    job->hold.reset();
    in_flight_.fetch_sub(1);
}

}  // namespace sb::media
