// Lock annotations checked at compile time by clang's thread-safety analysis
// (-Wthread-safety, on in every clang build: CRYO_THREAD_SAFETY), and the annotated mutex,
// scoped lock and condition variable that make them checkable. libstdc++'s std::mutex carries
// no annotations, so code that guards members uses these instead:
//
//   class Queue {
//    public:
//     void push(Item item) EXCLUDES(mu_) {
//       MutexLock lock(mu_);
//       items_.push_back(std::move(item));
//       ready_.notify_one();
//     }
//     Item pop() EXCLUDES(mu_) {
//       MutexLock lock(mu_);
//       ready_.wait(lock, [&]() REQUIRES(mu_) { return !items_.empty(); });
//       return take_front_locked();
//     }
//    private:
//     Item take_front_locked() REQUIRES(mu_);
//     Mutex mu_;
//     CondVar ready_;
//     std::deque<Item> items_ GUARDED_BY(mu_);
//   };
//
// A member read or written without its mutex held, a REQUIRES function called without it, or
// a lock left held at the end of a scope fails a clang build. Under GCC the macros expand to
// nothing and the types are thin wrappers over std::mutex and std::condition_variable.
//
// Lambdas are analysed as functions of their own: a predicate or callback that touches guarded
// members says so with REQUIRES(mu_) after its parameter list (as above).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#if defined(__clang__)
#define CRYO_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define CRYO_THREAD_ANNOTATION(x)
#endif

// On a type: it is a capability (a mutex), or an RAII object holding one.
#define CAPABILITY(name) CRYO_THREAD_ANNOTATION(capability(name))
#define SCOPED_CAPABILITY CRYO_THREAD_ANNOTATION(scoped_lockable)
// On a data member: only read or written with the mutex held (PT_: what it points to).
#define GUARDED_BY(mu) CRYO_THREAD_ANNOTATION(guarded_by(mu))
#define PT_GUARDED_BY(mu) CRYO_THREAD_ANNOTATION(pt_guarded_by(mu))
// On a mutex member: the lock order.
#define ACQUIRED_BEFORE(...) CRYO_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) CRYO_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
// On a function: the caller holds the mutex (exclusively / shared) ...
#define REQUIRES(...) CRYO_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) CRYO_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
// ... the function takes it and returns holding it, or releases it ...
#define ACQUIRE(...) CRYO_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) CRYO_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) CRYO_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) CRYO_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) CRYO_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
// ... the caller must not hold it (the function takes it itself) ...
#define EXCLUDES(...) CRYO_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
// ... the function checks at run time that it is held, or returns a reference to it.
#define ASSERT_CAPABILITY(mu) CRYO_THREAD_ANNOTATION(assert_capability(mu))
#define RETURN_CAPABILITY(mu) CRYO_THREAD_ANNOTATION(lock_returned(mu))
// The escape: a function the analysis cannot follow (say why at each use).
#define NO_THREAD_SAFETY_ANALYSIS CRYO_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace cryo {

// std::mutex, annotated.
class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }
  bool try_lock() TRY_ACQUIRE(true) { return mu_.try_lock(); }

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Holds a Mutex for its scope (std::lock_guard), or from construction until unlock(), which
// may be followed by lock() again (std::unique_lock). Constructed with std::defer_lock it
// starts unlocked.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : mu_(mu), held_(true) { mu_.lock(); }
  MutexLock(Mutex& mu, std::defer_lock_t) EXCLUDES(mu) : mu_(mu), held_(false) {}
  ~MutexLock() RELEASE() {
    if (held_) mu_.unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void lock() ACQUIRE() {
    mu_.lock();
    held_ = true;
  }
  bool try_lock() TRY_ACQUIRE(true) {
    held_ = mu_.try_lock();
    return held_;
  }
  void unlock() RELEASE() {
    held_ = false;
    mu_.unlock();
  }

 private:
  friend class CondVar;
  Mutex& mu_;
  bool held_;
};

// std::condition_variable for a MutexLock: the wait releases the mutex and takes it again
// before returning, so to the analysis (and to the caller) it stays held throughout.
class CondVar {
 public:
  void notify_one() noexcept { cv_.notify_one(); }
  void notify_all() noexcept { cv_.notify_all(); }

  void wait(MutexLock& lock) {
    Adopted a(lock);
    cv_.wait(a.lock);
  }
  template <class Predicate>
  void wait(MutexLock& lock, Predicate pred) {
    Adopted a(lock);
    cv_.wait(a.lock, std::move(pred));
  }
  template <class Clock, class Duration>
  std::cv_status wait_until(MutexLock& lock,
                            const std::chrono::time_point<Clock, Duration>& deadline) {
    Adopted a(lock);
    return cv_.wait_until(a.lock, deadline);
  }
  template <class Clock, class Duration, class Predicate>
  bool wait_until(MutexLock& lock, const std::chrono::time_point<Clock, Duration>& deadline,
                  Predicate pred) {
    Adopted a(lock);
    return cv_.wait_until(a.lock, deadline, std::move(pred));
  }
  template <class Rep, class Period>
  std::cv_status wait_for(MutexLock& lock, const std::chrono::duration<Rep, Period>& timeout) {
    Adopted a(lock);
    return cv_.wait_for(a.lock, timeout);
  }
  template <class Rep, class Period, class Predicate>
  bool wait_for(MutexLock& lock, const std::chrono::duration<Rep, Period>& timeout,
                Predicate pred) {
    Adopted a(lock);
    return cv_.wait_for(a.lock, timeout, std::move(pred));
  }

 private:
  // The held std::mutex, lent to a std::unique_lock for the wait and given back after it.
  struct Adopted {
    explicit Adopted(MutexLock& held) : lock(held.mu_.mu_, std::adopt_lock) {}
    ~Adopted() { lock.release(); }
    std::unique_lock<std::mutex> lock;
  };
  std::condition_variable cv_;
};

}  // namespace cryo
