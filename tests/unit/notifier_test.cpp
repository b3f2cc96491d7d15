// The notifier without sockets: which sessions get which frame by an event's audience, and what
// a session resuming from a seq is sent (the store's events after it that it may see, then live
// ones, nothing twice). Sessions are fakes that keep their frames; the store is SQLite on a temp
// file; frames are stamped by a clock the test sets.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "identity/principal.hpp"
#include "notifier/notifier.hpp"
#include "store/runner.hpp"
#include "store/store.hpp"
#include "support/temp_store.hpp"
#include "support/wait.hpp"
#include "util/clock.hpp"
#include "util/time.hpp"

namespace {

using sb::identity::Audience;
using sb::identity::Principal;

constexpr std::int64_t kNow = 1'732'540'000'000;
constexpr const char* kChannel = "tg-support";

// A session that keeps what it is sent, with room for everything.
class FakeSession final : public sb::http::WsSession {
public:
    explicit FakeSession(std::uint64_t id) : id_(id) {}
    std::uint64_t id() const override { return id_; }
    bool send(std::shared_ptr<const std::string> frame) override {
        std::lock_guard lock(mutex_);
        frames_.push_back(*frame);
        return true;
    }
    void close(std::uint16_t, std::string) override { closed_ = true; }
    std::size_t queued() const override { return 0; }
    std::size_t queue_limit() const override { return 4096; }
    bool is_closed() const override { return closed_; }
    void when_drained(std::function<void()> resume) override { resume(); }

    struct Frame {
        std::string type;
        std::int64_t seq = 0;
        std::string at;
        std::string session_id;  // hello's
    };
    std::vector<Frame> frames() const {
        std::lock_guard lock(mutex_);
        std::vector<Frame> out;
        for (const auto& text : frames_) {
            rapidjson::Document doc;
            doc.Parse(text.c_str());
            Frame f;
            f.type = doc["type"].GetString();
            if (doc.HasMember("seq")) f.seq = doc["seq"].GetInt64();
            f.at = doc["at"].GetString();
            if (f.type == "hello") f.session_id = doc["data"]["session_id"].GetString();
            out.push_back(f);
        }
        return out;
    }
    // The seqs of the event frames, in the order they came.
    std::vector<std::int64_t> seqs() const {
        std::vector<std::int64_t> out;
        for (const auto& f : frames())
            if (f.seq > 0) out.push_back(f.seq);
        return out;
    }

private:
    std::uint64_t id_;
    mutable std::mutex mutex_;
    std::vector<std::string> frames_;
    bool closed_ = false;
};

class NotifierRouting : public ::testing::Test {
protected:
    NotifierRouting()
        : store_("notifier-test"),
          runner_(*store_, 1),
          clock_(kNow),
          notifier_(runner_, store_->last_seq(), clock_) {}
    ~NotifierRouting() override { runner_.stop(); }

    std::shared_ptr<FakeSession> connect(const Principal& who, std::optional<std::int64_t> after_seq = {}) {
        auto session = std::make_shared<FakeSession>(++next_id_);
        notifier_.attach(session, std::make_shared<const Principal>(who), after_seq);
        return session;
    }

    sb::store::Event event(std::int64_t seq, std::string audience, std::string origin = "") {
        return sb::store::Event{
            seq, "message_created", 1, kNow, "{}", std::move(audience), std::move(origin)};
    }

    std::vector<sb::store::Event> customer_writes(const std::string& chat, const std::string& id) {
        return store_.customer_writes(kChannel, chat, id, kNow);
    }

    const Principal admin_{"admin", "Admin", "admin", "", 0};
    const Principal grace_{"agt_grace", "Grace", "agent", "tok_g", 0};
    const Principal ann_{"agt_ann", "Ann", "agent", "tok_a", 0};

    sb::test::TempSqliteStore store_;
    sb::store::StoreRunner runner_;
    sb::util::ManualClock clock_;
    sb::notifier::Notifier notifier_;
    std::uint64_t next_id_ = 0;
};

TEST_F(NotifierRouting, AnEventGoesToTheAgentsOfItsAudienceAndToEveryAdmin) {
    auto admin = connect(admin_);
    auto grace = connect(grace_);
    auto ann = connect(ann_);

    notifier_.publish(event(11, Audience::of_conversation("agt_grace")));           // Grace's conversation
    notifier_.publish(event(12, Audience::of_conversation("")));                    // unassigned: everyone
    notifier_.publish(event(13, Audience::of_assignment("agt_ann", "agt_grace")));  // both sides

    EXPECT_EQ(admin->seqs(), (std::vector<std::int64_t>{11, 12, 13}));
    EXPECT_EQ(grace->seqs(), (std::vector<std::int64_t>{11, 12, 13}));
    EXPECT_EQ(ann->seqs(), (std::vector<std::int64_t>{12, 13}));
}

TEST_F(NotifierRouting, AnEventIsNotSentBackToTheSessionItCameFromNorSentTwice) {
    auto first = connect(grace_);
    auto second = connect(grace_);
    const std::string origin = first->frames().at(0).session_id;
    ASSERT_FALSE(origin.empty());

    EXPECT_TRUE(notifier_.publish(event(21, "agt_grace", origin)));
    EXPECT_FALSE(notifier_.publish(event(21, "agt_grace", origin))) << "a seq is delivered once";

    EXPECT_TRUE(first->seqs().empty()) << "its HTTP answer said it";
    EXPECT_EQ(second->seqs(), (std::vector<std::int64_t>{21}));
}

TEST_F(NotifierRouting, FramesAreStampedByTheInjectedClock) {
    clock_.set(kNow + 1234);
    auto grace = connect(grace_);
    ASSERT_FALSE(grace->frames().empty());
    EXPECT_EQ(grace->frames().at(0).type, "hello");
    EXPECT_EQ(grace->frames().at(0).at, sb::util::rfc3339(kNow + 1234));
}

TEST_F(NotifierRouting, AResumingSessionGetsTheStoredEventsAfterItsSeqThatItMaySeeThenLiveOnes) {
    const auto grace_agent = store_->create_agent("Grace", "agent", kNow);
    const auto ann_agent = store_->create_agent("Ann", "agent", kNow);
    const Principal grace{grace_agent.id, "Grace", "agent", "tok_g", 0};
    const Principal ann{ann_agent.id, "Ann", "agent", "tok_a", 0};

    auto first = customer_writes("chat-1", "m-1");  // unassigned: everyone sees it
    ASSERT_FALSE(first.empty());
    const std::int64_t conversation = first.at(0).conversation_id;
    auto assigned = store_->assign(conversation, grace.agent_id, std::nullopt, "admin", kNow);
    ASSERT_EQ(assigned.kind, sb::store::AssignOutcome::Kind::assigned);
    auto later = customer_writes("chat-1", "m-2");  // Grace's now
    ASSERT_FALSE(later.empty());

    // What each may see, by the audience stored with each event.
    std::vector<std::int64_t> all, for_ann, after_first;
    for (const auto& e : store_->events_after(0, 100)) {
        all.push_back(e.seq);
        if (Audience::includes(e.audience, ann)) for_ann.push_back(e.seq);
        if (e.seq > first.back().seq) after_first.push_back(e.seq);
    }
    ASSERT_LT(for_ann.size(), all.size()) << "the assignment and what followed are Grace's";
    ASSERT_FALSE(after_first.empty());

    auto grace_session = connect(grace, 0);
    auto ann_session = connect(ann, 0);
    auto grace_late = connect(grace, first.back().seq);  // had the first message already
    EXPECT_TRUE(sb::test::wait_until([&] { return grace_session->seqs().size() >= all.size(); }));
    EXPECT_TRUE(sb::test::wait_until([&] { return grace_late->seqs().size() >= after_first.size(); }));
    EXPECT_TRUE(sb::test::wait_until([&] { return ann_session->seqs().size() >= for_ann.size(); }));

    EXPECT_EQ(grace_session->seqs(), all);
    EXPECT_EQ(grace_late->seqs(), after_first);
    EXPECT_EQ(ann_session->seqs(), for_ann);

    // Live from here, and an event the replay already sent is not sent again.
    notifier_.publish(later.back());
    const std::int64_t next = later.back().seq + 1;
    notifier_.publish(event(next, Audience::of_conversation(grace.agent_id)));
    auto expected = all;
    expected.push_back(next);
    EXPECT_EQ(grace_session->seqs(), expected);
    EXPECT_EQ(ann_session->seqs(), for_ann);
}

TEST_F(NotifierRouting, AResumeFromBeforeWhatIsKeptIsToldToResync) {
    customer_writes("chat-1", "m-1");
    auto last = store_->last_seq();
    auto session = connect(grace_, last + 100);  // from another database, or the future
    EXPECT_TRUE(sb::test::wait_until([&] {
        for (const auto& f : session->frames())
            if (f.type == "resync_required") return true;
        return false;
    }));
    EXPECT_TRUE(session->seqs().empty());
}

}  // namespace
