# A Queue with a poison pill: the main program feeds tasks, then one None per consumer to tell it to stop.
# ProcScope shows an idle consumer as `waiting on Queue.get (20_queue.py:18)` between tasks.
import multiprocessing
import time


def consumer(tasks, name):
    while True:
        task = tasks.get()
        if task is None:  # the poison pill
            print(f'{name}: exiting', flush=True)
            return
        print(f'{name}: task {task}', flush=True)
        time.sleep(0.2)


if __name__ == '__main__':
    tasks = multiprocessing.Queue()
    consumers = [multiprocessing.Process(target=consumer, args=(tasks, f'consumer-{n}'), name=f'consumer-{n}') for n in (1, 2)]
    for process in consumers:
        process.start()
    for task in range(6):
        tasks.put(task)
        time.sleep(0.1)
    time.sleep(0.5)
    for _ in consumers:
        tasks.put(None)
    for process in consumers:
        process.join()
