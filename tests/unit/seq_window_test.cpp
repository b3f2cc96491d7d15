// The notifier's memory of published seqs: repeats refused, late seqs of the outbox gap let
// through however many newer ones were published meanwhile, and only seqs older than the
// window forgotten (as published).

#include <gtest/gtest.h>

#include <cstdint>

#include "notifier/notifier.hpp"

namespace {

using sb::notifier::SeqWindow;

TEST(SeqWindow, RefusesRepeatsInAnyOrder) {
    SeqWindow w;
    EXPECT_TRUE(w.insert(1));
    EXPECT_TRUE(w.insert(3));
    EXPECT_FALSE(w.insert(3));
    EXPECT_TRUE(w.insert(2));  // late, below the newest
    EXPECT_FALSE(w.insert(2));
    EXPECT_FALSE(w.insert(1));
}

TEST(SeqWindow, LetsALateGapSeqThroughAfterAHundredThousandNewerOnes) {
    SeqWindow w;
    for (std::int64_t seq = 1; seq <= 200'000; ++seq) {
        if (seq != 50) {
            ASSERT_TRUE(w.insert(seq)) << seq;
        }
    }
    EXPECT_TRUE(w.insert(50)) << "the gap's seq committed late and was never published";
    EXPECT_FALSE(w.insert(50));
    EXPECT_FALSE(w.insert(51));
}

TEST(SeqWindow, SlotsReusedBySlidingAreFreshAndOldSeqsCountAsSeen) {
    SeqWindow w;
    const std::int64_t k = SeqWindow::kWindow;
    ASSERT_TRUE(w.insert(5));
    // Slot of 5 is reused by 5 + k: a new seq, not a repeat.
    EXPECT_TRUE(w.insert(5 + k));
    EXPECT_FALSE(w.insert(5 + k));
    EXPECT_FALSE(w.insert(5)) << "older than the window: treated as published";
    EXPECT_TRUE(w.insert(6)) << "inside the window, never seen";
    // A jump of more than the window clears everything below it.
    EXPECT_TRUE(w.insert(10 * k));
    EXPECT_TRUE(w.insert(10 * k - 1));
    EXPECT_FALSE(w.insert(10 * k - k));
}

}  // namespace
