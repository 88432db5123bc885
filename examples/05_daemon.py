# A daemon child outliving the main program is terminated when it exits; the non-daemon child is waited for.
import multiprocessing
import time


def background():
    me = multiprocessing.current_process()
    print('begin:', me.name, me.pid, flush=True)
    time.sleep(2.5)
    print('end:', me.name, me.pid, flush=True)  # never printed: the daemon is terminated first


def foreground():
    me = multiprocessing.current_process()
    print('begin:', me.name, me.pid, flush=True)
    time.sleep(0.5)
    print('end:', me.name, me.pid, flush=True)


if __name__ == '__main__':
    daemon = multiprocessing.Process(target=background, name='daemon', daemon=True)
    worker = multiprocessing.Process(target=foreground, name='non-daemon')
    daemon.start()
    time.sleep(0.5)
    worker.start()
