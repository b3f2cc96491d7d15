#pragma once
// A PostgreSQL database of a test's own, for process-level tests that run the daemon on
// PostgreSQL: created from the admin DSN that tools/with-postgres puts in SB_TEST_PG_DSN (its
// role may CREATE DATABASE) and dropped, connections and all, at the end. Tests skip without it.

#include <pqxx/pqxx>

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <utility>

namespace sb::test {

// SB_TEST_PG_DSN, or "" when PostgreSQL cases are to be skipped.
inline std::string test_pg_admin_dsn() {
    const char* dsn = std::getenv("SB_TEST_PG_DSN");
    return dsn != nullptr ? dsn : "";
}

// Runs outside a transaction block (CREATE and DROP DATABASE refuse to run inside one).
inline void pg_exec(const std::string& dsn, const std::string& sql) {
    pqxx::connection conn(dsn);
    pqxx::nontransaction tx(conn);
    tx.exec(sql);
}

class TestDatabase {
public:
    explicit TestDatabase(std::string admin_dsn)
        : admin_dsn_(std::move(admin_dsn)), name_("sbtest_" + suffix()) {
        pg_exec(admin_dsn_, "CREATE DATABASE " + name_);
    }
    ~TestDatabase() {
        try {
            pg_exec(admin_dsn_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
        } catch (const std::exception& e) {
            std::cerr << "dropping " << name_ << ": " << e.what() << "\n";
        }
    }
    TestDatabase(const TestDatabase&) = delete;
    TestDatabase& operator=(const TestDatabase&) = delete;

    // Keyword/value: the later dbname wins over one in the admin DSN.
    std::string dsn() const { return admin_dsn_ + " dbname=" + name_; }

    std::int64_t scalar(const std::string& sql) const {
        pqxx::connection conn(dsn());
        pqxx::nontransaction tx(conn);
        return tx.exec(sql).at(0)[0].as<std::int64_t>();
    }

private:
    static std::string suffix() {
        std::random_device rd;
        std::mt19937_64 gen(rd());
        static constexpr char kHex[] = "0123456789abcdef";
        std::string out;
        for (int i = 0; i < 12; ++i) out += kHex[gen() % 16];
        return out;
    }

    std::string admin_dsn_;
    std::string name_;
};

}  // namespace sb::test
