# Pass each worker its own (picklable) arguments: here a number and a word.
import multiprocessing


def describe(number, word):
    print('task {}: {}'.format(number, word))


if __name__ == '__main__':
    words = ['alpha', 'beta', 'gamma', 'delta']
    workers = [multiprocessing.Process(target=describe, args=(i, word)) for i, word in enumerate(words)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
