# Subclass Process and override run() instead of passing a target.
import multiprocessing


class Counter(multiprocessing.Process):
    def __init__(self, limit):
        super().__init__()
        self.limit = limit

    def run(self):
        print('{} counted to {}'.format(self.name, sum(1 for _ in range(self.limit))))


if __name__ == '__main__':
    counters = [Counter(limit) for limit in (10, 100, 1000)]
    for counter in counters:
        counter.start()
    for counter in counters:
        counter.join()
