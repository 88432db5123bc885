# A Manager's server process holds a dict and a list that workers change through proxies.
# ProcScope shows the manager's server process (`SyncManager-1`, role `manager`) beside the workers.
import multiprocessing


def record(shared, results, number):
    shared[number] = number * 10
    results.append(multiprocessing.current_process().name)


if __name__ == '__main__':
    with multiprocessing.Manager() as manager:
        shared = manager.dict()
        results = manager.list()
        workers = [multiprocessing.Process(target=record, args=(shared, results, n)) for n in range(3)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        print('dict:', dict(sorted(shared.items())), flush=True)
        print('workers:', sorted(results), flush=True)
