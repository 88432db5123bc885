# log_to_stderr(DEBUG) turns on multiprocessing's own log: [LEVEL/ProcessName] message lines on stderr.
import logging
import multiprocessing


def job():
    print('job running', flush=True)


if __name__ == '__main__':
    multiprocessing.log_to_stderr(logging.DEBUG)
    process = multiprocessing.Process(target=job)
    process.start()
    process.join()
