# A Condition: consumers wait until a producer has made something and notifies them all.
# ProcScope shows the consumers as `waiting on Condition (18_condition.py:22)` until notify_all().
import multiprocessing
import time


def consumer(condition, name):
    with condition:
        print(f'{name}: waiting for the resource', flush=True)
        condition.wait()
        print(f'{name}: the resource is available', flush=True)


def producer(condition):
    time.sleep(1.0)
    with condition:
        print('producer: making the resource available', flush=True)
        condition.notify_all()


if __name__ == '__main__':
    condition = multiprocessing.Condition()
    consumers = [multiprocessing.Process(target=consumer, args=(condition, f'consumer-{n}'), name=f'consumer-{n}') for n in (1, 2)]
    maker = multiprocessing.Process(target=producer, args=(condition,), name='producer')
    for process in consumers:
        process.start()
    time.sleep(0.2)
    maker.start()
    for process in [*consumers, maker]:
        process.join()
